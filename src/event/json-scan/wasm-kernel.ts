/**
 * The hand-assembled WebAssembly SIMD kernel (why a kernel and how fast: see ../json-scan.ts):
 * its fixed memory layout and the builder of its bytes. wasm-instance.ts instantiates it.
 */

import { KERNEL_MAX_DEPTH } from './errors.ts';
import { IMG_HEADER } from './plan.ts';
import { Asm, uleb } from './wasm-assembler.ts';

// Fixed memory layout of the wasm kernel (byte addresses).
export const W_CLS = 256; // 256-byte character class table
export const CLS_WS = 1; // JSON whitespace
export const CLS_ESC = 2; // valid character after a backslash (except u)
export const CLS_HEX = 4;
export const CLS_DIGIT = 8;
const W_STK_NODE = 512; // i32 per nesting level
const W_STK_START = W_STK_NODE + 4 * (KERNEL_MAX_DEPTH + 8);
const W_STK_IDX = W_STK_START + 4 * (KERNEL_MAX_DEPTH + 8);
const W_STK_ARR = W_STK_IDX + 4 * (KERNEL_MAX_DEPTH + 8);
export const W_FIXED_END = W_STK_ARR + 4 * (KERNEL_MAX_DEPTH + 8);

/**
 * Build the WebAssembly module (no toolchain needed). Exports:
 *   memory
 *   mask(src, words, dst): for w in [0, words): i32 at dst+4w = bitmap of the 32 bytes at src+32w
 *     ('"' | '\' | < 0x20, one v128 compare per 16 bytes + i8x16.bitmask); used by the JS scanner.
 *   collapse(src, n, dst) -> count: rewrite UTF-8 as one byte per UTF-16 unit (ASCII kept, each
 *     other code point becomes 0x80, two for 4-byte sequences); works in place, copies 16 bytes at
 *     a time while they are ASCII.
 *   narrow(src, units, dst) -> any: UTF-16LE units to one byte each, min(unit, 0x80), 16 units per
 *     step; works in place; returns non-zero when some unit was >= 0x80 (may over-report).
 *   scan(n, delta, planB, spansB, textB, node, baseDepth) -> end | -1 (invalid) | -2 (bail out):
 *     the whole validating scanner with plan tracking, see scanValue (the JS version) for the logic.
 */
export function buildWasm(): Uint8Array {
  const section = (id: number, bytes: number[]): number[] => [id, ...uleb(bytes.length), ...bytes];
  const name = (s: string): number[] => [s.length, ...Array.from(s, (c) => c.charCodeAt(0))];
  const SIMD = 0xfd;
  const v128splat = (a: Asm, b: number): Asm => a.op(SIMD, 0x0c, ...(new Array(16).fill(b) as number[]));
  /** i32 bitmask of the v128 in local v: (v == '"') | (v == '\') | (v <u 0x20), locals q/b/c hold the splats */
  const special = (a: Asm, v: number, q: number, b: number, c: number): Asm =>
    a
      .get(v)
      .get(q)
      .op(SIMD, 0x23) // i8x16.eq
      .get(v)
      .get(b)
      .op(SIMD, 0x23)
      .op(SIMD, 0x50) // v128.or
      .get(v)
      .get(c)
      .op(SIMD, 0x26) // i8x16.lt_u
      .op(SIMD, 0x50)
      .op(SIMD, 0x64); // i8x16.bitmask

  // ---- mask(src, words, dst) ----
  const mask = new Asm();
  {
    const SRC = 0,
      WORDS = 1,
      DST = 2,
      Q = 3,
      B = 4,
      C = 5,
      V = 6;
    v128splat(mask, 34).set(Q);
    v128splat(mask, 92).set(B);
    v128splat(mask, 32).set(C);
    mask.block('out', () => {
      mask.loop('top', () => {
        mask.get(WORDS).eqz().brIf('out');
        mask.get(DST);
        mask.get(SRC).op(SIMD, 0x00, 4, 0).set(V);
        special(mask, V, Q, B, C);
        mask.get(SRC).op(SIMD, 0x00, 4, 16).set(V);
        special(mask, V, Q, B, C);
        mask.i32(16).shl().or().store();
        mask.inc(SRC, 32).inc(DST, 4).inc(WORDS, -1).br('top');
      });
    });
  }
  const maskCode = [1, 4, 0x7b, ...mask.out, 0x0b];

  // ---- collapse(src, n, dst) -> count ----
  const col = new Asm();
  {
    const SRC = 0,
      N = 1,
      DST = 2,
      END = 3,
      BYTE = 4,
      D0 = 5,
      V = 6;
    col.get(SRC).get(N).add().set(END).get(DST).set(D0);
    col.block('out', () => {
      col.loop('top', () => {
        col.get(SRC).get(END).geU().brIf('out');
        // 16 ASCII bytes at once (dst <= src, and v is loaded before the store)
        col
          .get(END)
          .get(SRC)
          .sub()
          .i32(16)
          .geU()
          .if(() => {
            col
              .get(SRC)
              .op(SIMD, 0x00, 0, 0)
              .tee(V)
              .op(SIMD, 0x64)
              .eqz()
              .if(() => {
                col.get(DST).get(V).op(SIMD, 0x0b, 0, 0); // v128.store
                col.inc(SRC, 16).inc(DST, 16).br('top');
              });
          });
        col.get(SRC).load8().set(BYTE);
        col
          .get(BYTE)
          .i32(0x80)
          .ltU()
          .if(
            () => void col.get(DST).get(BYTE).store8().inc(DST),
            () => {
              col
                .get(BYTE)
                .i32(0xc0)
                .geU()
                .if(() => {
                  col.get(DST).i32(0x80).store8().inc(DST);
                  col
                    .get(BYTE)
                    .i32(0xf0)
                    .geU()
                    .if(() => void col.get(DST).i32(0x80).store8().inc(DST));
                });
            },
          );
        col.inc(SRC).br('top');
      });
    });
    col.get(DST).get(D0).sub();
  }
  const colCode = [2, 3, 0x7f, 1, 0x7b, ...col.out, 0x0b];

  // ---- narrow(src, units, dst) -> any unit >= 0x80: UTF-16LE units -> bytes, min(unit, 0x80) ----
  const nar = new Asm();
  {
    const SRC = 0,
      UNITS = 1,
      DST = 2,
      ANY = 3,
      LIM = 4,
      V = 5;
    nar.op(SIMD, 0x0c, ...(new Array(8).fill([0x80, 0]).flat() as number[])).set(LIM); // i16x8 splat 0x80
    nar.block('out', () => {
      nar.loop('top', () => {
        nar.get(UNITS).i32(0).op(0x4c).brIf('out'); // i32.le_s
        nar.get(SRC).op(SIMD, 0x00, 0, 0).get(LIM).op(SIMD, 0x97, 0x01); // i16x8.min_u
        nar.get(SRC).op(SIMD, 0x00, 0, 16).get(LIM).op(SIMD, 0x97, 0x01);
        nar.op(SIMD, 0x66).set(V); // i8x16.narrow_i16x8_u (no saturation: all lanes <= 0x80)
        nar.get(DST).get(V).op(SIMD, 0x0b, 0, 0); // store 16 bytes (dst <= src/2: in place is safe)
        nar.get(ANY).get(V).op(SIMD, 0x64).or().set(ANY);
        nar.inc(SRC, 32).inc(DST, 16).inc(UNITS, -16).br('top');
      });
    });
    nar.get(ANY);
  }
  const narCode = [2, 1, 0x7f, 2, 0x7b, ...nar.out, 0x0b]; // locals: ANY i32; LIM, V v128

  // ---- scan(n, delta, planB, spansB, textB, node, baseDepth) -> i32 ----
  const a = new Asm();
  const N = 0,
    DELTA = 1,
    PLANB = 2,
    SPANSB = 3,
    TEXTB = 4,
    NODE = 5,
    BASED = 6;
  let next = 7;
  const POS = next++,
    C = next++,
    SP = next++,
    NEEDKEY = next++,
    VS = next++,
    S = next++,
    J = next++,
    T = next++;
  const LEN = next++,
    H = next++,
    AT = next++,
    MASK = next++,
    K = next++,
    P = next++,
    BITS = next++,
    KS = next++;
  const PAR = next++,
    END = next++,
    ESC = next++,
    E2 = next++,
    KIDS = next++,
    KB = next++,
    CNT = next++,
    TOP = next++;
  const ADDR = next++;
  const I32_LOCALS = next - 7;
  const VQ = next++,
    VB = next++,
    VC = next++,
    V = next++;

  const fail = (): void => void a.i32(-1).ret();
  /** c = u[pos] */
  const loadC = (): void => void a.get(POS).load8().set(C);
  /** while (c is whitespace) c = u[++pos] */
  const skipWs = (): void => {
    a.block('ws_done', () => {
      a.loop('ws', () => {
        a.get(C).load8(W_CLS).i32(CLS_WS).and().eqz().brIf('ws_done');
        a.inc(POS);
        loadC();
        a.br('ws');
      });
    });
  };
  /** push the address of node record `l` */
  const nodeAddr = (l: number): Asm => a.get(PLANB).get(l).i32(5).shl().add().i32(IMG_HEADER).add();
  /** string at pos (opening quote) -> pos after the closing quote; sets ESC; fails on errors */
  const skipString = (): void => {
    a.i32(0).set(ESC);
    a.get(POS).i32(1).add().set(P);
    a.block('s_done', () => {
      a.loop('s_loop', () => {
        a.get(P).op(SIMD, 0x00, 0, 0).set(V);
        special(a, V, VQ, VB, VC).tee(BITS);
        a.eqz().if(() => void a.inc(P, 16).br('s_loop'));
        a.get(P).get(BITS).ctz().add().tee(J).load8().set(E2);
        a.get(E2)
          .i32(34)
          .eq()
          .if(() => void a.get(J).i32(1).add().set(POS).br('s_done'));
        a.get(E2)
          .i32(92)
          .ne()
          .if(() => fail()); // control character or the sentinel
        a.i32(1).set(ESC);
        a.get(J).load8(1).set(E2);
        a.get(E2)
          .load8(W_CLS)
          .i32(CLS_ESC)
          .and()
          .if(() => void a.get(J).i32(2).add().set(P).br('s_loop'));
        a.get(E2)
          .i32(117)
          .ne()
          .if(() => fail());
        a.get(J).load8(2).load8(W_CLS);
        a.get(J).load8(3).load8(W_CLS).and();
        a.get(J).load8(4).load8(W_CLS).and();
        a.get(J).load8(5).load8(W_CLS).and();
        a.i32(CLS_HEX)
          .and()
          .eqz()
          .if(() => fail());
        a.get(J).i32(6).add().set(P).br('s_loop');
      });
    });
  };
  /** record span [startLocal, POS) + delta for node in local `l` (stores via ADDR) */
  const record = (l: number, startFrom: () => void): void => {
    a.get(l)
      .i32(0)
      .geS()
      .if(() => {
        nodeAddr(l)
          .load()
          .tee(S)
          .i32(0)
          .geS()
          .if(() => {
            a.get(SPANSB).get(S).i32(3).shl().add().tee(ADDR);
            startFrom();
            a.get(DELTA).add().store();
            a.get(ADDR).get(POS).get(DELTA).add().store(4);
          });
      });
  };
  /** NODE = index child `idx` (on stack top pushed by idxPush) of node in PAR, or -1 */
  const findIndex = (idxPush: () => void): void => {
    a.i32(-1).set(NODE);
    a.get(PAR)
      .i32(0)
      .geS()
      .if(() => {
        nodeAddr(PAR).tee(ADDR).load(20).set(CNT);
        a.get(PLANB).get(ADDR).load(16).add().set(AT);
        a.block('fi_done', () => {
          a.loop('fi', () => {
            a.get(CNT).eqz().brIf('fi_done');
            a.get(AT).load();
            idxPush();
            a.eq().if(() => void a.get(AT).load(4).set(NODE).br('fi_done'));
            a.inc(AT, 8).inc(CNT, -1).br('fi');
          });
        });
      });
  };

  // init
  v128splat(a, 34).set(VQ);
  v128splat(a, 92).set(VB);
  v128splat(a, 32).set(VC);
  a.get(PLANB).get(PLANB).load().add().set(KIDS);
  a.get(TEXTB).set(POS);
  a.get(TEXTB).get(N).add().set(END);
  a.get(DELTA).get(TEXTB).sub().set(DELTA); // spans store address + (delta - textB)
  loadC();
  a.loop('main', () => {
    // ---- object member: key, colon ----
    a.get(NEEDKEY).if(() => {
      a.get(C)
        .i32(34)
        .ne()
        .if(() => fail());
      a.get(POS).set(KS);
      skipString();
      a.i32(-1).set(NODE);
      a.get(SP)
        .i32(2)
        .shl()
        .load(W_STK_NODE - 4)
        .tee(PAR)
        .i32(0)
        .geS()
        .if(() => {
          nodeAddr(PAR)
            .tee(ADDR)
            .load(12)
            .if(() => {
              a.get(ESC).if(() => void a.i32(-2).ret()); // escaped key in a tracked object: JS handles it
              // hash lookup of the key bytes [KS+1, POS-1)
              a.get(POS)
                .get(KS)
                .sub()
                .i32(2)
                .sub()
                .tee(LEN)
                .if(
                  () => {
                    a.get(LEN).i32(7).mul();
                    a.get(KS).load8(1).i32(3).mul().add();
                    a.get(POS).i32(2).sub().load8().tee(E2).i32(5).mul().add();
                    a.get(E2).i32(2).shrU().xor().set(H);
                  },
                  () => void a.i32(0).set(H),
                );
              a.get(PLANB).get(ADDR).load(4).add().set(AT);
              a.get(ADDR).load(8).set(MASK);
              a.get(H).get(MASK).and().set(T);
              a.block('fk_done', () => {
                a.loop('probe', () => {
                  a.get(AT).get(T).i32(2).shl().add().load().i32(1).sub().tee(J).i32(0).ltS().brIf('fk_done');
                  a.get(KIDS)
                    .get(J)
                    .i32(12)
                    .mul()
                    .add()
                    .tee(ADDR)
                    .load()
                    .get(LEN)
                    .eq()
                    .if(() => {
                      a.get(PLANB).get(ADDR).load(4).add().set(KB);
                      a.i32(0).set(K);
                      a.block('cmp_fail', () => {
                        a.loop('cmp', () => {
                          a.get(K)
                            .get(LEN)
                            .geU()
                            .if(() => void a.get(ADDR).load(8).set(NODE).br('fk_done'));
                          a.get(KB).get(K).add().load8().get(KS).get(K).add().load8(1).ne().brIf('cmp_fail');
                          a.inc(K).br('cmp');
                        });
                      });
                    });
                  a.get(T).i32(1).add().get(MASK).and().set(T);
                  a.br('probe');
                });
              });
              // a new occurrence of a tracked key: forget what was found below it
              a.get(NODE)
                .i32(0)
                .geS()
                .if(() => {
                  nodeAddr(NODE).tee(ADDR).load(28).set(CNT);
                  a.get(PLANB).get(ADDR).load(24).add().set(AT);
                  a.block('rb_done', () => {
                    a.loop('rb', () => {
                      a.get(CNT).eqz().brIf('rb_done');
                      a.get(SPANSB).get(AT).load().i32(3).shl().add().tee(ADDR).i32(-1).store();
                      a.get(ADDR).i32(-1).store(4);
                      a.inc(AT, 4).inc(CNT, -1).br('rb');
                    });
                  });
                });
            });
        });
      loadC();
      skipWs();
      a.get(C)
        .i32(58)
        .ne()
        .if(() => fail());
      a.inc(POS);
      loadC();
      skipWs();
      a.i32(0).set(NEEDKEY);
    });
    // ---- a value starts at POS ----
    a.get(POS).set(VS);
    a.block('val', () => {
      a.get(C)
        .i32(34)
        .eq()
        .if(() => {
          skipString();
          a.br('val');
        });
      a.get(C)
        .i32(123)
        .eq()
        .get(C)
        .i32(91)
        .eq()
        .or()
        .if(() => {
          // deeper than the kernel's stacks: bail out, the JS scanner's stacks grow
          a.get(BASED)
            .get(SP)
            .add()
            .i32(KERNEL_MAX_DEPTH)
            .geS()
            .if(() => void a.i32(-2).ret());
          a.get(SP).i32(2).shl().tee(ADDR).get(NODE).store(W_STK_NODE);
          a.get(ADDR).get(VS).store(W_STK_START);
          a.get(ADDR).i32(0).store(W_STK_IDX);
          a.get(ADDR).get(C).i32(91).eq().tee(E2).store(W_STK_ARR);
          a.inc(SP).inc(POS);
          loadC();
          skipWs();
          // empty container?
          a.get(C)
            .i32(125)
            .get(E2)
            .i32(-32)
            .mul()
            .add()
            .eq()
            .if(() => {
              a.inc(SP, -1).inc(POS).br('val');
            });
          a.get(E2).if(() => {
            a.get(NODE).set(PAR);
            findIndex(() => void a.i32(0));
            a.br('main');
          });
          a.i32(1).set(NEEDKEY);
          a.br('main');
        });
      a.get(C)
        .i32(116)
        .eq()
        .if(() => {
          a.get(POS)
            .load()
            .i32(0x65757274)
            .ne()
            .if(() => fail()); // "true"
          a.inc(POS, 4).br('val');
        });
      a.get(C)
        .i32(102)
        .eq()
        .if(() => {
          a.get(POS)
            .load(1)
            .i32(0x65736c61)
            .ne()
            .if(() => fail()); // "alse"
          a.inc(POS, 5).br('val');
        });
      a.get(C)
        .i32(110)
        .eq()
        .if(() => {
          a.get(POS)
            .load()
            .i32(0x6c6c756e)
            .ne()
            .if(() => fail()); // "null"
          a.inc(POS, 4).br('val');
        });
      // number: -? (0 | [1-9][0-9]*) (\.[0-9]+)? ([eE][+-]?[0-9]+)?
      const digitsLoop = (label: string): void => {
        a.loop(label, () => {
          a.inc(POS);
          loadC();
          a.get(C).load8(W_CLS).i32(CLS_DIGIT).and().brIf(label);
        });
      };
      const requireDigit = (): void =>
        void a
          .get(C)
          .load8(W_CLS)
          .i32(CLS_DIGIT)
          .and()
          .eqz()
          .if(() => fail());
      a.get(C)
        .i32(45)
        .eq()
        .if(() => {
          a.inc(POS);
          loadC();
          requireDigit();
        });
      requireDigit();
      a.get(C)
        .i32(48)
        .eq()
        .if(
          () => {
            a.inc(POS);
            loadC();
          },
          () => digitsLoop('int'),
        );
      a.get(C)
        .i32(46)
        .eq()
        .if(() => {
          a.inc(POS);
          loadC();
          requireDigit();
          digitsLoop('frac');
        });
      a.get(C)
        .i32(32)
        .or()
        .i32(101)
        .eq()
        .if(() => {
          a.inc(POS);
          loadC();
          a.get(C)
            .i32(43)
            .eq()
            .get(C)
            .i32(45)
            .eq()
            .or()
            .if(() => {
              a.inc(POS);
              loadC();
            });
          requireDigit();
          digitsLoop('exp');
        });
    });
    // ---- value [VS, POS) done ----
    record(NODE, () => void a.get(VS));
    a.loop('after', () => {
      a.get(SP)
        .eqz()
        .if(() => void a.get(POS).get(TEXTB).sub().ret());
      loadC();
      skipWs();
      a.get(SP).i32(1).sub().tee(TOP).i32(2).shl().set(ADDR);
      a.get(C)
        .i32(44)
        .eq()
        .if(() => {
          a.inc(POS);
          loadC();
          skipWs();
          a.get(ADDR)
            .load(W_STK_ARR)
            .if(
              () => {
                a.get(ADDR).get(ADDR).load(W_STK_IDX).i32(1).add().tee(K).store(W_STK_IDX);
                a.get(ADDR).load(W_STK_NODE).set(PAR);
                findIndex(() => void a.get(K));
              },
              () => void a.i32(1).set(NEEDKEY),
            );
          a.br('main');
        });
      // closing bracket of the open container: '}' (125) for objects, ']' (93) for arrays
      a.get(C)
        .i32(125)
        .get(ADDR)
        .load(W_STK_ARR)
        .i32(-32)
        .mul()
        .add()
        .eq()
        .if(() => {
          a.inc(POS);
          a.get(TOP).set(SP);
          a.get(ADDR).load(W_STK_START).set(VS);
          a.get(ADDR).load(W_STK_NODE).set(PAR);
          record(PAR, () => void a.get(VS));
          a.br('after');
        });
      fail();
    });
  });
  a.op(0x00); // unreachable
  const scanCode = [2, I32_LOCALS, 0x7f, 4, 0x7b, ...a.out, 0x0b];

  const i32x3 = [0x7f, 0x7f, 0x7f];
  return new Uint8Array([
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    ...section(1, [
      3,
      0x60,
      3,
      ...i32x3,
      0, // (i32 i32 i32) -> ()
      0x60,
      3,
      ...i32x3,
      1,
      0x7f, // (i32 i32 i32) -> i32
      0x60,
      7,
      ...i32x3,
      ...i32x3,
      0x7f,
      1,
      0x7f, // (i32 x7) -> i32
    ]),
    ...section(3, [4, 0, 1, 2, 1]),
    ...section(5, [1, 0, 1]),
    ...section(7, [
      5,
      ...name('memory'),
      2,
      0,
      ...name('mask'),
      0,
      0,
      ...name('collapse'),
      0,
      1,
      ...name('scan'),
      0,
      2,
      ...name('narrow'),
      0,
      3,
    ]),
    ...section(10, [
      4,
      ...uleb(maskCode.length),
      ...maskCode,
      ...uleb(colCode.length),
      ...colCode,
      ...uleb(scanCode.length),
      ...scanCode,
      ...uleb(narCode.length),
      ...narCode,
    ]),
  ]);
}
