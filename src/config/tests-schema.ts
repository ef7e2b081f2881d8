/**
 * Config unit tests (`tests:` in the config, or files named by `test --tests`): Kong entries in,
 * expectations about where they go out. Run by `kong-log-relay test` without any network.
 */
import { z } from 'zod';

const destinationList = z.array(z.string().min(1));

const entry = z.record(z.string(), z.unknown()).describe('A Kong log entry, written as YAML (it becomes JSON).');

export const configTestCase = z
  .strictObject({
    name: z.string().min(1),
    input: z
      .union([entry, z.array(entry).min(1)])
      .optional()
      .describe('One Kong log entry, or a list of them; each must meet every expectation.'),
    input_file: z
      .string()
      .min(1)
      .optional()
      .describe('A file of Kong entries (NDJSON, or one JSON array), relative to the config file.'),
    expect: z
      .strictObject({
        to: destinationList.optional().describe('Each entry reaches every one of these destinations.'),
        not_to: destinationList.optional().describe('Each entry reaches none of these destinations.'),
        destinations: destinationList.optional().describe('Each entry reaches exactly these destinations.'),
        rules: destinationList.optional().describe('Each entry matches exactly these rules.'),
        payload: z
          .record(z.string().min(1), z.record(z.string().min(1), z.unknown()))
          .optional()
          .describe('Per destination, JSON paths of the outgoing payload and the values they must have.'),
      })
      .describe('What must hold for each input entry.'),
  })
  .refine((t) => (t.input === undefined) !== (t.input_file === undefined), {
    error: 'expected exactly one of input and input_file',
  });

export const configTests = z.array(configTestCase);

export type ConfigTestCase = z.output<typeof configTestCase>;
