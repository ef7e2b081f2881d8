/** prom-client options for a metric read from the relay's stats objects at each scrape. */
import type { Registry } from 'prom-client';

/** `fill` sets every series from the stats after a reset, so a series gone from the stats is gone here too. */
export function readAtScrape<M extends { reset(): void }, const L extends string>(
  name: string,
  help: string,
  labelNames: readonly L[],
  registers: Registry[],
  fill: (metric: M) => void,
): { name: string; help: string; labelNames: readonly L[]; registers: Registry[]; collect(this: M): void } {
  return {
    name,
    help,
    labelNames,
    registers,
    collect(this: M): void {
      this.reset();
      fill(this);
    },
  };
}
