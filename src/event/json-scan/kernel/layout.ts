/**
 * The numbers the WebAssembly kernel and the TypeScript side must agree on, in one table:
 * where the kernel keeps its tables and stacks, how a FieldPlan image is laid out, and what the
 * kernel returns. The TypeScript side imports this module; `npm run build:kernel`
 * (tools/build-kernel.mjs) writes each `{NAME}` of scan-kernel.wat as the number named here
 * before compiling it, and `npm run check:kernel` fails when the committed module is stale.
 */

/** Levels of nesting the kernel's fixed stacks hold; deeper texts go to the JS scanner. */
const MAX_DEPTH = 1024;
/** Bytes of one stack: one i32 per level, with a little slack. */
const STACK_BYTES = 4 * (MAX_DEPTH + 8);
/** Where the stacks start (after the character class table at 256). */
const STACKS_AT = 512;

export const KERNEL_LAYOUT = Object.freeze({
  // ---- the kernel's fixed memory (byte addresses) ----
  /** 256 bytes: the character classes of each byte value (filled by the kernel when it starts). */
  CLASS_TABLE: 256,
  /** Class bits: JSON whitespace; a valid character after a backslash (except u); a hex digit; a decimal digit. */
  CLASS_WS: 1,
  CLASS_ESCAPE: 2,
  CLASS_HEX: 4,
  CLASS_DIGIT: 8,
  /** Stacks of the open containers, one i32 per level each: its plan node, its start, its current array index, whether it is an array. */
  STACK_NODE: STACKS_AT,
  STACK_START: STACKS_AT + STACK_BYTES,
  STACK_INDEX: STACKS_AT + 2 * STACK_BYTES,
  STACK_IS_ARRAY: STACKS_AT + 3 * STACK_BYTES,
  /** First byte after the fixed part: plans, spans and texts go from here on. */
  FIXED_END: STACKS_AT + 4 * STACK_BYTES,
  MAX_DEPTH,

  // ---- a FieldPlan image (FieldPlan#buildImage); byte offsets relative to the image start ----
  /** Header: the offset of the key children (i32). Node records follow it. */
  IMAGE_KIDS_AT: 0,
  IMAGE_HEADER: 16,
  /** A node record (i32 fields): its slot (-1: none); its key hash table (offset, size - 1) and number of keys; its index children (offset, count); the slots below it (offset, count). */
  NODE_SIZE: 32,
  NODE_SLOT: 0,
  NODE_HASH_AT: 4,
  NODE_HASH_MASK: 8,
  NODE_KEY_COUNT: 12,
  NODE_INDEX_AT: 16,
  NODE_INDEX_COUNT: 20,
  NODE_BELOW_AT: 24,
  NODE_BELOW_COUNT: 28,
  /** A key child (i32 fields): the key's length, the offset of its bytes, its node. */
  KID_SIZE: 12,
  KID_LEN: 0,
  KID_BYTES_AT: 4,
  KID_NODE: 8,
  /** An index child (i32 fields): the array index, its node. */
  INDEX_SIZE: 8,
  INDEX_VALUE: 0,
  INDEX_NODE: 4,
  /** The spans area: per slot, the start and end offsets (i32). */
  SPAN_SIZE: 8,

  // ---- what scan returns besides the end of the value ----
  /** The text is not valid JSON (the JS scanner finds the exact error). */
  SCAN_INVALID: -1,
  /** The kernel cannot finish: an escaped key in an object the plan looks into, or nesting deeper than MAX_DEPTH. */
  SCAN_BAIL_OUT: -2,
} as const);
