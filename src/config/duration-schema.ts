/**
 * Duration keys of the config, each with a maximum: a timer longer than 2^31-1 ms (24.8 days)
 * fires after 1 ms in node (a 30d timeout became a 1 ms one), and far shorter values are already
 * mistakes for most keys. A value above its key's maximum is a config error (FILE:LINE:COL), never
 * clamped. The maxima are documented in config/schema.json and the README.
 */
import { z } from 'zod';
import { DURATION_PATTERN, parseDuration } from './units.ts';

/** The longest delay setTimeout honours (2^31-1 ms); any duration key is below it. */
export const TIMER_LIMIT_MS = 2 ** 31 - 1;

/** A duration string of at most `max` (itself a duration, e.g. "1h"). */
export function durationUpTo(max: string) {
  const maxMs = parseDuration(max);
  if (maxMs > TIMER_LIMIT_MS) throw new RangeError(`duration maximum ${max} is beyond the timer limit`);
  return (
    z
      .string()
      .regex(DURATION_PATTERN, { error: 'expected a duration such as "200ms", "30s", "5m", "1h"' })
      // zod runs this check even when the pattern failed: a malformed value is reported once, by the pattern.
      .refine((text) => !DURATION_PATTERN.test(text) || parseDuration(text) <= maxMs, {
        error: (issue) => `${JSON.stringify(issue.input)} is longer than the maximum of ${max} for this key`,
      })
      .describe(`A duration: a number with ms, s, m, h or d, e.g. "200ms", "30s"; at most ${max}.`)
  );
}
