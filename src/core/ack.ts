/**
 * Acknowledgements. A source hands events over in groups (a chunk of a file, one HTTP
 * request); a group completes when every event in it is finished: delivered or
 * dead-lettered by each destination it was routed to (or dropped by a drop_* buffer,
 * which is counted). Only then may a file checkpoint move past it or an `ack: delivered`
 * request be answered.
 */
import type { KongEvent } from '../event/kong-event.ts';

export class AckGroup {
  /**
   * True when the events can be read again from where they came (a file behind a
   * checkpoint): on shutdown, unfinished ones are left for the re-read instead of being
   * dead-lettered.
   */
  readonly replayable: boolean;
  #pending = 0;
  #sealed = false;
  #done = false;
  #onDone: (() => void) | undefined;

  constructor(replayable: boolean, onDone?: () => void) {
    this.replayable = replayable;
    this.#onDone = onDone;
  }

  /** @internal one more event of this group is on its way. */
  hold(): void {
    this.#pending++;
  }

  /** @internal one event of this group is finished everywhere. */
  release(): void {
    this.#pending--;
    if (this.#sealed && this.#pending === 0) this.#complete();
  }

  /** The source has handed over everything in this group; completes now if nothing is pending. */
  seal(): void {
    this.#sealed = true;
    if (this.#pending === 0) this.#complete();
  }

  get done(): boolean {
    return this.#done;
  }
  get pending(): number {
    return this.#pending;
  }

  /** Resolves when the group completes. */
  whenDone(): Promise<void> {
    if (this.#done) return Promise.resolve();
    return new Promise((resolve) => {
      const previous = this.#onDone;
      this.#onDone = () => {
        previous?.();
        resolve();
      };
    });
  }

  #complete(): void {
    if (this.#done) return;
    this.#done = true;
    const cb = this.#onDone;
    this.#onDone = undefined;
    cb?.();
  }
}

/** One routed event travelling to its destinations; each destination settles it exactly once. */
export class Ticket {
  /** The entry as its destination sends it (see carrying). */
  readonly event: KongEvent;
  readonly group: AckGroup | null;
  /** When the relay took it (ms since epoch), for age metrics and dead letters. */
  readonly receivedAt: number;
  /** Destinations that have not settled it yet, shared with the tickets made by carrying(). */
  readonly #count: { pending: number };

  /** `shared`: @internal the count of the ticket this one is a shaped copy of (see carrying). */
  constructor(
    event: KongEvent,
    destinations: number,
    group: AckGroup | null,
    receivedAt: number,
    shared?: { pending: number },
  ) {
    this.event = event;
    this.group = group;
    this.receivedAt = receivedAt;
    if (shared !== undefined) this.#count = shared;
    else {
      this.#count = { pending: destinations };
      group?.hold();
    }
  }

  /** The same ticket (settling either settles it) carrying the entry as one destination shaped it. */
  carrying(event: KongEvent): Ticket {
    return new Ticket(event, 0, this.group, this.receivedAt, this.#count);
  }

  /** One destination is finished with this event. */
  settle(): void {
    if (this.#count.pending <= 0) throw new Error('ticket settled more often than it was routed');
    if (--this.#count.pending === 0) this.group?.release();
  }

  get finished(): boolean {
    return this.#count.pending === 0;
  }

  /** Can be read again from where it came (see AckGroup.replayable): left there at shutdown, not dead-lettered. */
  get replayable(): boolean {
    return this.group?.replayable === true;
  }
}
