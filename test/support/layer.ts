/**
 * The test layers (test/support/run-tests.ts). `npm run test:unit` sets KLR_TEST_LAYER=unit; there
 * a test that starts the relay's CLI or daemon as a child process, or loads the machine (hundreds
 * of connections), inside a file of otherwise in-process tests takes `FULL_LAYER_ONLY` as its
 * options and is skipped, and property tests run a fifth of their cases. `npm test` runs all of
 * them, in full.
 */
export const UNIT_LAYER_ENV = 'KLR_TEST_LAYER';

/** Read when a test is declared: the unit layer's runner sets it before it loads the test files. */
const inUnitLayer = (): boolean => process.env[UNIT_LAYER_ENV] === 'unit';

export const FULL_LAYER_ONLY = {
  get skip(): string | false {
    return inUnitLayer() && 'a child process or a load test: npm test runs it';
  },
};

/** How many cases a property test runs: `n` in the full layer, a fifth (at least 20) in the unit layer. */
export function propertyRuns(n: number): number {
  return inUnitLayer() ? Math.max(20, Math.round(n / 5)) : n;
}
