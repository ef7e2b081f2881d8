/** docs/reliability.md is rebuilt from the rows each run measured, keeping the rows of files (or tests) that did not run. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { Fleet } from './support/reliability-harness.ts';
import { readRows, renderReport, type ReportRow } from './support/reliability-report.ts';

const fleet = new Fleet();

function row(file: string, scenario: string, lost: number, notes = ''): ReportRow {
  return {
    file,
    scenario,
    load: 'load',
    faults: 'faults',
    notes,
    result: 'pass',
    measuredAt: new Date().toISOString(),
    sent: 10,
    expected: 10,
    received: 10 - lost,
    duplicated: 0,
    lost,
  };
}

describe('reliability report', () => {
  it('a run of some files replaces their rows and keeps the others; any text in a row stays inside its comment', () => {
    const target = path.join(fleet.dir('klr-rel-report-'), 'reliability.md');
    renderReport([row('reliability-crash', 'kill', 0), row('reliability-outage', 'outage', 0)], target);
    renderReport([row('reliability-crash', 'kill', 3, 'a note with --> and | pipes\nand a newline')], target);
    const rows = readRows(target);
    assert.deepEqual(
      rows.map((r) => [r.file, r.scenario, r.lost]),
      [
        ['reliability-crash', 'kill', 3],
        ['reliability-outage', 'outage', 0],
      ],
    );
    assert.equal(rows[0].notes, 'a note with --> and | pipes\nand a newline');
    const text = readFileSync(target, 'utf8');
    assert.match(
      text,
      /\| kill \| load \| faults \| 10 \| 10 \| 7 \| 0 \| 3 \| pass \| a note with --> and \\\| pipes and a newline \|/,
    );
    assert.equal(text.split('\n').filter((l) => l.startsWith('| ')).length, 3, 'header and two rows');
  });
});
