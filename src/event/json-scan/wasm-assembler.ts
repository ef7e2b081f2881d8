/**
 * A tiny WebAssembly assembler: opcodes as chainable methods, structured control flow with named
 * labels, LEB128 integers. Just what wasm-kernel.ts needs to hand-assemble its kernel without a
 * toolchain.
 */

/** Minimal WebAssembly code emitter: structured control flow with named labels. */
export class Asm {
  readonly out: number[] = [];
  private readonly labels: string[] = [];
  op(...bytes: number[]): this {
    for (const b of bytes) this.out.push(b);
    return this;
  }
  get(l: number): this {
    return this.op(0x20, l);
  }
  set(l: number): this {
    return this.op(0x21, l);
  }
  tee(l: number): this {
    return this.op(0x22, l);
  }
  i32(v: number): this {
    return this.op(0x41, ...sleb(v));
  }
  add(): this {
    return this.op(0x6a);
  }
  sub(): this {
    return this.op(0x6b);
  }
  mul(): this {
    return this.op(0x6c);
  }
  and(): this {
    return this.op(0x71);
  }
  or(): this {
    return this.op(0x72);
  }
  xor(): this {
    return this.op(0x73);
  }
  shl(): this {
    return this.op(0x74);
  }
  shrU(): this {
    return this.op(0x76);
  }
  eqz(): this {
    return this.op(0x45);
  }
  eq(): this {
    return this.op(0x46);
  }
  ne(): this {
    return this.op(0x47);
  }
  ltS(): this {
    return this.op(0x48);
  }
  ltU(): this {
    return this.op(0x49);
  }
  geS(): this {
    return this.op(0x4e);
  }
  geU(): this {
    return this.op(0x4f);
  }
  ctz(): this {
    return this.op(0x68);
  }
  load(offset = 0): this {
    return this.op(0x28, 2, ...uleb(offset));
  }
  load8(offset = 0): this {
    return this.op(0x2d, 0, ...uleb(offset));
  }
  store(offset = 0): this {
    return this.op(0x36, 2, ...uleb(offset));
  }
  store8(offset = 0): this {
    return this.op(0x3a, 0, ...uleb(offset));
  }
  ret(): this {
    return this.op(0x0f);
  }
  /** local += v */
  inc(l: number, v = 1): this {
    return this.get(l).i32(v).add().set(l);
  }
  block(name: string, body: () => void): this {
    this.op(0x02, 0x40);
    this.labels.push(name);
    body();
    this.labels.pop();
    return this.op(0x0b);
  }
  loop(name: string, body: () => void): this {
    this.op(0x03, 0x40);
    this.labels.push(name);
    body();
    this.labels.pop();
    return this.op(0x0b);
  }
  /** if (pop) body [else elseBody] */
  if(body: () => void, elseBody?: () => void): this {
    this.op(0x04, 0x40);
    this.labels.push('');
    body();
    if (elseBody !== undefined) {
      this.op(0x05);
      elseBody();
    }
    this.labels.pop();
    return this.op(0x0b);
  }
  private depth(name: string): number {
    const i = this.labels.lastIndexOf(name);
    if (i < 0) throw new Error(`wasm asm: no label ${name}`);
    return this.labels.length - 1 - i;
  }
  br(name: string): this {
    return this.op(0x0c, ...uleb(this.depth(name)));
  }
  brIf(name: string): this {
    return this.op(0x0d, ...uleb(this.depth(name)));
  }
}

export function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

function sleb(n: number): number[] {
  const out: number[] = [];
  n |= 0;
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}
