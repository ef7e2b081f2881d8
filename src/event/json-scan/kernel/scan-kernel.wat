;; The JSON scanner's WebAssembly SIMD kernel (why a kernel, and how fast: see ../../json-scan.ts).
;;
;; It validates one JSON value exactly as JSON.parse would (RFC 8259) and walks a FieldPlan's
;; trie as it goes, writing the [start, end) offsets of the values at the plan's paths. The JS
;; scanner (../js-scanner.ts) runs the same algorithm on the same bytes; keep the two in step.
;;
;; Input: the text at $text, one byte per character, then a 0 sentinel byte. No token continues
;; over a 0 byte, so the loops need no bounds checks; string contents are skipped 16 bytes at a
;; time. Bytes >= 0x80 (non-ASCII) are valid only inside strings, as the characters they stand
;; for are.
;;
;; {NAME} is a number of ./layout.ts (KERNEL_LAYOUT), written in by `npm run build:kernel`
;; (tools/build-kernel.mjs), which compiles this file with wabt into ./scan-kernel.wasm.ts.
;; Node 20's V8 does not inline wasm calls: the hot paths are written out in $scan (the record of
;; plan node N is at $plan + IMAGE_HEADER + N * NODE_SIZE; the string skip twice, for keys and
;; for values), and helper functions are used only off the hot path.
(module
  (memory (export "memory") 1)

  ;; The class table at {CLASS_TABLE}: for each byte value, its CLASS_* bits. Filled once, when
  ;; the module is instantiated.
  (func $fill_class_table
    (local $c i32)
    (local $bits i32)
    (loop $next_byte
      (local.set $bits (i32.const 0))
      ;; JSON whitespace: space, \t, \n, \r
      (if (i32.or
            (i32.or (i32.eq (local.get $c) (i32.const 0x20)) (i32.eq (local.get $c) (i32.const 0x09)))
            (i32.or (i32.eq (local.get $c) (i32.const 0x0a)) (i32.eq (local.get $c) (i32.const 0x0d))))
        (then (local.set $bits (i32.or (local.get $bits) (i32.const {CLASS_WS})))))
      ;; after a backslash: " \ / b f n r t (\u is checked on its own)
      (if (i32.or
            (i32.or
              (i32.or (i32.eq (local.get $c) (i32.const 0x22)) (i32.eq (local.get $c) (i32.const 0x5c)))
              (i32.or (i32.eq (local.get $c) (i32.const 0x2f)) (i32.eq (local.get $c) (i32.const 0x62))))
            (i32.or
              (i32.or (i32.eq (local.get $c) (i32.const 0x66)) (i32.eq (local.get $c) (i32.const 0x6e)))
              (i32.or (i32.eq (local.get $c) (i32.const 0x72)) (i32.eq (local.get $c) (i32.const 0x74)))))
        (then (local.set $bits (i32.or (local.get $bits) (i32.const {CLASS_ESCAPE})))))
      ;; 0-9
      (if (call $in_range (local.get $c) (i32.const 0x30) (i32.const 0x39))
        (then (local.set $bits (i32.or (local.get $bits) (i32.or (i32.const {CLASS_DIGIT}) (i32.const {CLASS_HEX}))))))
      ;; a-f, A-F
      (if (i32.or
            (call $in_range (local.get $c) (i32.const 0x61) (i32.const 0x66))
            (call $in_range (local.get $c) (i32.const 0x41) (i32.const 0x46)))
        (then (local.set $bits (i32.or (local.get $bits) (i32.const {CLASS_HEX})))))
      (i32.store8 offset={CLASS_TABLE} (local.get $c) (local.get $bits))
      (local.set $c (i32.add (local.get $c) (i32.const 1)))
      (br_if $next_byte (i32.lt_u (local.get $c) (i32.const 256)))))
  (start $fill_class_table)

  (func $in_range (param $c i32) (param $low i32) (param $high i32) (result i32)
    (i32.and (i32.ge_u (local.get $c) (local.get $low)) (i32.le_u (local.get $c) (local.get $high))))

  ;; A 16-bit mask of the bytes of $v that end or interrupt a string's plain run: '"', '\' and the
  ;; control characters below 0x20 (the sentinel included). $scan writes the same test out.
  (func $string_specials (param $v v128) (result i32)
    (i8x16.bitmask
      (v128.or
        (v128.or
          (i8x16.eq (local.get $v) (i8x16.splat (i32.const 0x22)))
          (i8x16.eq (local.get $v) (i8x16.splat (i32.const 0x5c))))
        (i8x16.lt_u (local.get $v) (i8x16.splat (i32.const 0x20))))))

  ;; mask(src, words, dst): for w in [0, words), the i32 at dst + 4w is the bitmap of the
  ;; string specials among the 32 bytes at src + 32w (bit k for byte k). The JS scanner walks it.
  (func (export "mask") (param $src i32) (param $words i32) (param $dst i32)
    (block $done
      (loop $next_word
        (br_if $done (i32.eqz (local.get $words)))
        (i32.store (local.get $dst)
          (i32.or
            (call $string_specials (v128.load align=1 (local.get $src)))
            (i32.shl (call $string_specials (v128.load offset=16 align=1 (local.get $src))) (i32.const 16))))
        (local.set $src (i32.add (local.get $src) (i32.const 32)))
        (local.set $dst (i32.add (local.get $dst) (i32.const 4)))
        (local.set $words (i32.sub (local.get $words) (i32.const 1)))
        (br $next_word))))

  ;; The child of plan node $node for array index $index, or -1.
  (func $index_child (param $plan i32) (param $node i32) (param $index i32) (result i32)
    (local $record i32)
    (local $count i32)
    (local $at i32)
    (local.set $record (call $node_record (local.get $plan) (local.get $node)))
    (local.set $count (i32.load offset={NODE_INDEX_COUNT} (local.get $record)))
    (local.set $at (i32.add (local.get $plan) (i32.load offset={NODE_INDEX_AT} (local.get $record))))
    (loop $next_child
      (if (i32.eqz (local.get $count)) (then (return (i32.const -1))))
      (if (i32.eq (i32.load offset={INDEX_VALUE} (local.get $at)) (local.get $index))
        (then (return (i32.load offset={INDEX_NODE} (local.get $at)))))
      (local.set $at (i32.add (local.get $at) (i32.const {INDEX_SIZE})))
      (local.set $count (i32.sub (local.get $count) (i32.const 1)))
      (br $next_child))
    (unreachable))

  ;; The address of plan node $node's record.
  (func $node_record (param $plan i32) (param $node i32) (result i32)
    (i32.add
      (i32.add (local.get $plan) (i32.mul (local.get $node) (i32.const {NODE_SIZE})))
      (i32.const {IMAGE_HEADER})))

  ;; scan(n, delta, plan, spans, text, node, base_depth) -> end | {SCAN_INVALID} | {SCAN_BAIL_OUT}
  ;;
  ;; Scans the one JSON value that starts at $text (no whitespace before it) and returns the
  ;; offset just after it (the caller checks what follows). $node is the plan node of that value
  ;; (-1: nothing tracked; then $plan is not read), $base_depth the nesting depth around it.
  ;; For each value at a plan path its span, plus $delta, goes to the spans area at $spans.
  ;; {SCAN_INVALID}: not valid JSON. {SCAN_BAIL_OUT}: an escaped key in an object the plan looks
  ;; into (the JS scanner unescapes it), or nesting deeper than the stacks.
  (func (export "scan")
    (param $n i32) (param $delta i32) (param $plan i32) (param $spans i32) (param $text i32)
    (param $node i32) (param $base_depth i32) (result i32)
    (local $pos i32)         ;; the byte being looked at
    (local $c i32)           ;; its value
    (local $sp i32)          ;; open containers
    (local $need_key i32)    ;; an object member (key) starts at $pos
    (local $value_start i32)
    (local $escaped i32)     ;; the key just skipped has a backslash
    (local $p i32)           ;; where the string skip reads the next 16 bytes
    (local $bits i32)
    (local $at i32)          ;; the special byte found in a string; a table entry; a record
    (local $byte i32)
    (local $parent i32)      ;; plan node of the enclosing container
    (local $record i32)      ;; address of a plan record or stack entry
    (local $kids i32)        ;; address of the plan's key children
    (local $key_len i32)
    (local $hash i32)
    (local $hash_mask i32)
    (local $probe i32)
    (local $kid i32)
    (local $key_bytes i32)
    (local $k i32)
    (local $count i32)
    (local $slot i32)
    (local $is_array i32)
    (local $quote v128)
    (local $backslash v128)
    (local $space v128)
    (local $v v128)
    (local.set $quote (i8x16.splat (i32.const 0x22)))
    (local.set $backslash (i8x16.splat (i32.const 0x5c)))
    (local.set $space (i8x16.splat (i32.const 0x20)))
    (local.set $kids (i32.add (local.get $plan) (i32.load offset={IMAGE_KIDS_AT} (local.get $plan))))
    (local.set $pos (local.get $text))
    ;; spans are memory offsets: store them plus ($delta - $text)
    (local.set $delta (i32.sub (local.get $delta) (local.get $text)))
    (local.set $c (i32.load8_u (local.get $pos)))

    (loop $next_value
      ;; A value starts at $pos (whitespace before it skipped, $c its first byte), or an object
      ;; member when $need_key.
      (if (local.get $need_key)
        (then
          ;; ---- a key: a string, [$value_start, $pos) with its quotes ----
          (if (i32.ne (local.get $c) (i32.const 0x22)) (then (return (i32.const {SCAN_INVALID}))))
          (local.set $value_start (local.get $pos))
          ;; (the string skip of a value below, written out here again: one copy shared by keys
          ;; and values measured 11% slower)
          (local.set $escaped (i32.const 0))
          (local.set $p (i32.add (local.get $pos) (i32.const 1)))
          (block $string_end
            (loop $next_16
              ;; bits of '"', '\' and control characters among the next 16 bytes ($string_specials)
              (local.set $v (v128.load align=1 (local.get $p)))
              (local.set $bits
                (i8x16.bitmask
                  (v128.or
                    (v128.or (i8x16.eq (local.get $v) (local.get $quote)) (i8x16.eq (local.get $v) (local.get $backslash)))
                    (i8x16.lt_u (local.get $v) (local.get $space)))))
              (if (i32.eqz (local.get $bits))
                (then
                  (local.set $p (i32.add (local.get $p) (i32.const 16)))
                  (br $next_16)))
              (local.set $at (i32.add (local.get $p) (i32.ctz (local.get $bits))))
              (local.set $byte (i32.load8_u (local.get $at)))
              (if (i32.eq (local.get $byte) (i32.const 0x22))
                (then
                  (local.set $pos (i32.add (local.get $at) (i32.const 1)))
                  (br $string_end)))
              ;; a control character, or the sentinel: the string is not closed
              (if (i32.ne (local.get $byte) (i32.const 0x5c))
                (then (return (i32.const {SCAN_INVALID}))))
              ;; an escape
              (local.set $escaped (i32.const 1))
              (local.set $byte (i32.load8_u offset=1 (local.get $at)))
              (if (i32.and (i32.load8_u offset={CLASS_TABLE} (local.get $byte)) (i32.const {CLASS_ESCAPE}))
                (then
                  (local.set $p (i32.add (local.get $at) (i32.const 2)))
                  (br $next_16)))
              (if (i32.ne (local.get $byte) (i32.const 0x75))
                (then (return (i32.const {SCAN_INVALID}))))
              ;; \uXXXX: four hex digits
              (if (i32.eqz
                    (i32.and
                      (i32.and
                        (i32.and
                          (i32.load8_u offset={CLASS_TABLE} (i32.load8_u offset=2 (local.get $at)))
                          (i32.load8_u offset={CLASS_TABLE} (i32.load8_u offset=3 (local.get $at))))
                        (i32.and
                          (i32.load8_u offset={CLASS_TABLE} (i32.load8_u offset=4 (local.get $at)))
                          (i32.load8_u offset={CLASS_TABLE} (i32.load8_u offset=5 (local.get $at)))))
                      (i32.const {CLASS_HEX})))
                (then (return (i32.const {SCAN_INVALID}))))
              (local.set $p (i32.add (local.get $at) (i32.const 6)))
              (br $next_16)))

          (local.set $node (i32.const -1))
          (local.set $parent
            (i32.load offset={STACK_NODE} (i32.shl (i32.sub (local.get $sp) (i32.const 1)) (i32.const 2))))
          (if (i32.ge_s (local.get $parent) (i32.const 0))
            (then
              (local.set $record (i32.add (local.get $plan) (i32.add (i32.mul (local.get $parent) (i32.const {NODE_SIZE})) (i32.const {IMAGE_HEADER}))))
              (if (i32.load offset={NODE_KEY_COUNT} (local.get $record))
                (then
                  ;; the object has wanted keys: the JS scanner unescapes escaped ones
                  (if (local.get $escaped) (then (return (i32.const {SCAN_BAIL_OUT}))))
                  ;; look the key's bytes up in the node's hash table (FieldPlan's keyHash:
                  ;; (length * 7 + first * 3 + last * 5) ^ (last >>> 2), 0 for "")
                  (local.set $key_len (i32.sub (i32.sub (local.get $pos) (local.get $value_start)) (i32.const 2)))
                  (if (local.get $key_len)
                    (then
                      (local.set $byte (i32.load8_u (i32.sub (local.get $pos) (i32.const 2))))
                      (local.set $hash
                        (i32.xor
                          (i32.add
                            (i32.add
                              (i32.mul (local.get $key_len) (i32.const 7))
                              (i32.mul (i32.load8_u offset=1 (local.get $value_start)) (i32.const 3)))
                            (i32.mul (local.get $byte) (i32.const 5)))
                          (i32.shr_u (local.get $byte) (i32.const 2)))))
                    (else (local.set $hash (i32.const 0))))
                  (local.set $at (i32.add (local.get $plan) (i32.load offset={NODE_HASH_AT} (local.get $record))))
                  (local.set $hash_mask (i32.load offset={NODE_HASH_MASK} (local.get $record)))
                  (local.set $probe (i32.and (local.get $hash) (local.get $hash_mask)))
                  (block $key_found
                    (loop $next_probe
                      ;; table entry: key child index + 1, 0 = empty (the key is not wanted)
                      (local.set $kid
                        (i32.sub (i32.load (i32.add (local.get $at) (i32.shl (local.get $probe) (i32.const 2)))) (i32.const 1)))
                      (br_if $key_found (i32.lt_s (local.get $kid) (i32.const 0)))
                      (local.set $record (i32.add (local.get $kids) (i32.mul (local.get $kid) (i32.const {KID_SIZE}))))
                      (if (i32.eq (i32.load offset={KID_LEN} (local.get $record)) (local.get $key_len))
                        (then
                          (local.set $key_bytes (i32.add (local.get $plan) (i32.load offset={KID_BYTES_AT} (local.get $record))))
                          (local.set $k (i32.const 0))
                          (block $differs
                            (loop $next_byte
                              (if (i32.ge_u (local.get $k) (local.get $key_len))
                                (then
                                  (local.set $node (i32.load offset={KID_NODE} (local.get $record)))
                                  (br $key_found)))
                              (br_if $differs
                                (i32.ne
                                  (i32.load8_u (i32.add (local.get $key_bytes) (local.get $k)))
                                  (i32.load8_u offset=1 (i32.add (local.get $value_start) (local.get $k)))))
                              (local.set $k (i32.add (local.get $k) (i32.const 1)))
                              (br $next_byte)))))
                      (local.set $probe (i32.and (i32.add (local.get $probe) (i32.const 1)) (local.get $hash_mask)))
                      (br $next_probe)))
                  ;; a new occurrence of a wanted key: forget what was found below it before
                  (if (i32.ge_s (local.get $node) (i32.const 0))
                    (then
                      (local.set $record (i32.add (local.get $plan) (i32.add (i32.mul (local.get $node) (i32.const {NODE_SIZE})) (i32.const {IMAGE_HEADER}))))
                      (local.set $count (i32.load offset={NODE_BELOW_COUNT} (local.get $record)))
                      (local.set $at (i32.add (local.get $plan) (i32.load offset={NODE_BELOW_AT} (local.get $record))))
                      (block $forgotten
                        (loop $next_slot
                          (br_if $forgotten (i32.eqz (local.get $count)))
                          (local.set $record
                            (i32.add (local.get $spans) (i32.mul (i32.load (local.get $at)) (i32.const {SPAN_SIZE}))))
                          (i32.store (local.get $record) (i32.const -1))
                          (i32.store offset=4 (local.get $record) (i32.const -1))
                          (local.set $at (i32.add (local.get $at) (i32.const 4)))
                          (local.set $count (i32.sub (local.get $count) (i32.const 1)))
                          (br $next_slot)))))))))
          ;; then ':' and the member's value
          (local.set $c (i32.load8_u (local.get $pos)))
          (block $ws_done
            (loop $ws
              (br_if $ws_done
                (i32.eqz (i32.and (i32.load8_u offset={CLASS_TABLE} (local.get $c)) (i32.const {CLASS_WS}))))
              (local.set $pos (i32.add (local.get $pos) (i32.const 1)))
              (local.set $c (i32.load8_u (local.get $pos)))
              (br $ws)))
          (if (i32.ne (local.get $c) (i32.const 0x3a))
            (then (return (i32.const {SCAN_INVALID}))))
          (local.set $pos (i32.add (local.get $pos) (i32.const 1)))
          (local.set $c (i32.load8_u (local.get $pos)))
          (block $ws_done
            (loop $ws
              (br_if $ws_done
                (i32.eqz (i32.and (i32.load8_u offset={CLASS_TABLE} (local.get $c)) (i32.const {CLASS_WS}))))
              (local.set $pos (i32.add (local.get $pos) (i32.const 1)))
              (local.set $c (i32.load8_u (local.get $pos)))
              (br $ws)))
          (local.set $need_key (i32.const 0))))
      (local.set $value_start (local.get $pos))
      (block $value_done
        ;; ---- a string: skip it ----
        (if (i32.eq (local.get $c) (i32.const 0x22))
          (then
            (local.set $p (i32.add (local.get $pos) (i32.const 1)))
            (block $string_end
              (loop $next_16
                ;; bits of '"', '\' and control characters among the next 16 bytes ($string_specials)
                (local.set $v (v128.load align=1 (local.get $p)))
                (local.set $bits
                  (i8x16.bitmask
                    (v128.or
                      (v128.or (i8x16.eq (local.get $v) (local.get $quote)) (i8x16.eq (local.get $v) (local.get $backslash)))
                      (i8x16.lt_u (local.get $v) (local.get $space)))))
                (if (i32.eqz (local.get $bits))
                  (then
                    (local.set $p (i32.add (local.get $p) (i32.const 16)))
                    (br $next_16)))
                (local.set $at (i32.add (local.get $p) (i32.ctz (local.get $bits))))
                (local.set $byte (i32.load8_u (local.get $at)))
                (if (i32.eq (local.get $byte) (i32.const 0x22))
                  (then
                    (local.set $pos (i32.add (local.get $at) (i32.const 1)))
                    (br $string_end)))
                ;; a control character, or the sentinel: the string is not closed
                (if (i32.ne (local.get $byte) (i32.const 0x5c))
                  (then (return (i32.const {SCAN_INVALID}))))
                ;; an escape
                (local.set $byte (i32.load8_u offset=1 (local.get $at)))
                (if (i32.and (i32.load8_u offset={CLASS_TABLE} (local.get $byte)) (i32.const {CLASS_ESCAPE}))
                  (then
                    (local.set $p (i32.add (local.get $at) (i32.const 2)))
                    (br $next_16)))
                (if (i32.ne (local.get $byte) (i32.const 0x75))
                  (then (return (i32.const {SCAN_INVALID}))))
                ;; \uXXXX: four hex digits
                (if (i32.eqz
                      (i32.and
                        (i32.and
                          (i32.and
                            (i32.load8_u offset={CLASS_TABLE} (i32.load8_u offset=2 (local.get $at)))
                            (i32.load8_u offset={CLASS_TABLE} (i32.load8_u offset=3 (local.get $at))))
                          (i32.and
                            (i32.load8_u offset={CLASS_TABLE} (i32.load8_u offset=4 (local.get $at)))
                            (i32.load8_u offset={CLASS_TABLE} (i32.load8_u offset=5 (local.get $at)))))
                        (i32.const {CLASS_HEX})))
                  (then (return (i32.const {SCAN_INVALID}))))
                (local.set $p (i32.add (local.get $at) (i32.const 6)))
                (br $next_16)))
            (br $value_done)))
        ;; ---- an object or an array: push it ----
        (if (i32.or (i32.eq (local.get $c) (i32.const 0x7b)) (i32.eq (local.get $c) (i32.const 0x5b)))
          (then
            ;; deeper than the stacks: the JS scanner's stacks grow
            (if (i32.ge_s (i32.add (local.get $base_depth) (local.get $sp)) (i32.const {MAX_DEPTH}))
              (then (return (i32.const {SCAN_BAIL_OUT}))))
            (local.set $is_array (i32.eq (local.get $c) (i32.const 0x5b)))
            (local.set $record (i32.shl (local.get $sp) (i32.const 2)))
            (i32.store offset={STACK_NODE} (local.get $record) (local.get $node))
            (i32.store offset={STACK_START} (local.get $record) (local.get $value_start))
            (i32.store offset={STACK_INDEX} (local.get $record) (i32.const 0))
            (i32.store offset={STACK_IS_ARRAY} (local.get $record) (local.get $is_array))
            (local.set $sp (i32.add (local.get $sp) (i32.const 1)))
            (local.set $pos (i32.add (local.get $pos) (i32.const 1)))
            (local.set $c (i32.load8_u (local.get $pos)))
            (block $ws_done
              (loop $ws
                (br_if $ws_done
                  (i32.eqz (i32.and (i32.load8_u offset={CLASS_TABLE} (local.get $c)) (i32.const {CLASS_WS}))))
                (local.set $pos (i32.add (local.get $pos) (i32.const 1)))
                (local.set $c (i32.load8_u (local.get $pos)))
                (br $ws)))
            ;; empty: '}' (0x7d) for an object, ']' (0x5d) for an array; a value like any other
            (if (i32.eq (local.get $c) (i32.sub (i32.const 0x7d) (i32.mul (local.get $is_array) (i32.const 0x20))))
              (then
                (local.set $sp (i32.sub (local.get $sp) (i32.const 1)))
                (local.set $pos (i32.add (local.get $pos) (i32.const 1)))
                (br $value_done)))
            (if (local.get $is_array)
              (then
                ;; element 0
                (if (i32.ge_s (local.get $node) (i32.const 0))
                  (then (local.set $node (call $index_child (local.get $plan) (local.get $node) (i32.const 0)))))
                (br $next_value)))
            (local.set $need_key (i32.const 1))
            (br $next_value)))

        ;; ---- true, false, null (compared as little-endian i32s) ----
        (if (i32.eq (local.get $c) (i32.const 0x74))
          (then
            (if (i32.ne (i32.load (local.get $pos)) (i32.const 0x65757274)) ;; "true"
              (then (return (i32.const {SCAN_INVALID}))))
            (local.set $pos (i32.add (local.get $pos) (i32.const 4)))
            (br $value_done)))
        (if (i32.eq (local.get $c) (i32.const 0x66))
          (then
            (if (i32.ne (i32.load offset=1 (local.get $pos)) (i32.const 0x65736c61)) ;; "alse"
              (then (return (i32.const {SCAN_INVALID}))))
            (local.set $pos (i32.add (local.get $pos) (i32.const 5)))
            (br $value_done)))
        (if (i32.eq (local.get $c) (i32.const 0x6e))
          (then
            (if (i32.ne (i32.load (local.get $pos)) (i32.const 0x6c6c756e)) ;; "null"
              (then (return (i32.const {SCAN_INVALID}))))
            (local.set $pos (i32.add (local.get $pos) (i32.const 4)))
            (br $value_done)))

        ;; ---- a number: -? (0 | [1-9][0-9]*) (\.[0-9]+)? ([eE][+-]?[0-9]+)? ----
        (if (i32.eq (local.get $c) (i32.const 0x2d))
          (then
            (local.set $pos (i32.add (local.get $pos) (i32.const 1)))
            (local.set $c (i32.load8_u (local.get $pos)))))
        (if (i32.eqz (i32.and (i32.load8_u offset={CLASS_TABLE} (local.get $c)) (i32.const {CLASS_DIGIT})))
          (then (return (i32.const {SCAN_INVALID}))))
        (if (i32.eq (local.get $c) (i32.const 0x30))
          (then
            (local.set $pos (i32.add (local.get $pos) (i32.const 1)))
            (local.set $c (i32.load8_u (local.get $pos))))
          (else
            (loop $integer_digits
              (local.set $pos (i32.add (local.get $pos) (i32.const 1)))
              (local.set $c (i32.load8_u (local.get $pos)))
              (br_if $integer_digits (i32.and (i32.load8_u offset={CLASS_TABLE} (local.get $c)) (i32.const {CLASS_DIGIT}))))))
        (if (i32.eq (local.get $c) (i32.const 0x2e))
          (then
            (local.set $pos (i32.add (local.get $pos) (i32.const 1)))
            (local.set $c (i32.load8_u (local.get $pos)))
            (if (i32.eqz (i32.and (i32.load8_u offset={CLASS_TABLE} (local.get $c)) (i32.const {CLASS_DIGIT})))
              (then (return (i32.const {SCAN_INVALID}))))
            (loop $fraction_digits
              (local.set $pos (i32.add (local.get $pos) (i32.const 1)))
              (local.set $c (i32.load8_u (local.get $pos)))
              (br_if $fraction_digits (i32.and (i32.load8_u offset={CLASS_TABLE} (local.get $c)) (i32.const {CLASS_DIGIT}))))))
        ;; 'e' or 'E'
        (if (i32.eq (i32.or (local.get $c) (i32.const 0x20)) (i32.const 0x65))
          (then
            (local.set $pos (i32.add (local.get $pos) (i32.const 1)))
            (local.set $c (i32.load8_u (local.get $pos)))
            (if (i32.or (i32.eq (local.get $c) (i32.const 0x2b)) (i32.eq (local.get $c) (i32.const 0x2d)))
              (then
                (local.set $pos (i32.add (local.get $pos) (i32.const 1)))
                (local.set $c (i32.load8_u (local.get $pos)))))
            (if (i32.eqz (i32.and (i32.load8_u offset={CLASS_TABLE} (local.get $c)) (i32.const {CLASS_DIGIT})))
              (then (return (i32.const {SCAN_INVALID}))))
            (loop $exponent_digits
              (local.set $pos (i32.add (local.get $pos) (i32.const 1)))
              (local.set $c (i32.load8_u (local.get $pos)))
              (br_if $exponent_digits (i32.and (i32.load8_u offset={CLASS_TABLE} (local.get $c)) (i32.const {CLASS_DIGIT})))))))

      (loop $value_end
        ;; ---- the value [$value_start, $pos) of plan node $node ends here ----
        (if (i32.ge_s (local.get $node) (i32.const 0))
          (then
            (local.set $slot
              (i32.load offset={NODE_SLOT}
                (i32.add (local.get $plan) (i32.add (i32.mul (local.get $node) (i32.const {NODE_SIZE})) (i32.const {IMAGE_HEADER})))))
            (if (i32.ge_s (local.get $slot) (i32.const 0))
              (then
                (local.set $record (i32.add (local.get $spans) (i32.mul (local.get $slot) (i32.const {SPAN_SIZE}))))
                (i32.store (local.get $record) (i32.add (local.get $value_start) (local.get $delta)))
                (i32.store offset=4 (local.get $record) (i32.add (local.get $pos) (local.get $delta)))))))
        (if (i32.eqz (local.get $sp))
          (then (return (i32.sub (local.get $pos) (local.get $text)))))
        (local.set $c (i32.load8_u (local.get $pos)))
        (block $ws_done
          (loop $ws
            (br_if $ws_done
              (i32.eqz (i32.and (i32.load8_u offset={CLASS_TABLE} (local.get $c)) (i32.const {CLASS_WS}))))
            (local.set $pos (i32.add (local.get $pos) (i32.const 1)))
            (local.set $c (i32.load8_u (local.get $pos)))
            (br $ws)))
        ;; the innermost open container
        (local.set $record (i32.shl (i32.sub (local.get $sp) (i32.const 1)) (i32.const 2)))
        ;; ',': the next member or element
        (if (i32.eq (local.get $c) (i32.const 0x2c))
          (then
            (local.set $pos (i32.add (local.get $pos) (i32.const 1)))
            (local.set $c (i32.load8_u (local.get $pos)))
            (block $ws_done
              (loop $ws
                (br_if $ws_done
                  (i32.eqz (i32.and (i32.load8_u offset={CLASS_TABLE} (local.get $c)) (i32.const {CLASS_WS}))))
                (local.set $pos (i32.add (local.get $pos) (i32.const 1)))
                (local.set $c (i32.load8_u (local.get $pos)))
                (br $ws)))
            (if (i32.load offset={STACK_IS_ARRAY} (local.get $record))
              (then
                (local.set $k (i32.add (i32.load offset={STACK_INDEX} (local.get $record)) (i32.const 1)))
                (i32.store offset={STACK_INDEX} (local.get $record) (local.get $k))
                (local.set $parent (i32.load offset={STACK_NODE} (local.get $record)))
                (local.set $node (i32.const -1))
                (if (i32.ge_s (local.get $parent) (i32.const 0))
                  (then (local.set $node (call $index_child (local.get $plan) (local.get $parent) (local.get $k))))))
              (else (local.set $need_key (i32.const 1))))
            (br $next_value)))
        ;; '}' or ']' closes it: the container is a value that ends here
        (if (i32.eq (local.get $c) (i32.sub (i32.const 0x7d) (i32.mul (i32.load offset={STACK_IS_ARRAY} (local.get $record)) (i32.const 0x20))))
          (then
            (local.set $pos (i32.add (local.get $pos) (i32.const 1)))
            (local.set $sp (i32.sub (local.get $sp) (i32.const 1)))
            (local.set $value_start (i32.load offset={STACK_START} (local.get $record)))
            (local.set $node (i32.load offset={STACK_NODE} (local.get $record)))
            (br $value_end)))
        (return (i32.const {SCAN_INVALID}))))
    (unreachable))
)
