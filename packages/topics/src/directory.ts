import type { Bus, Subscription } from '@gw/bus';
import { sourceAnnouncementPrefix, sourceAnnouncementSchema, strategyOfPattern } from './sources.js';
import type { SourceAnnouncement, TopicKind } from './sources.js';

export interface SourceDirectoryOptions {
  bus: Bus;
  /** Something changed: a source appeared, went away or changed its declarations. Must not throw. */
  onChange?: (directory: SourceDirectory) => void;
  /** A bus operation failed; the directory tries again at the next resync. */
  onFailure?: (error: unknown) => void;
  /**
   * Full re-read period, a safety net besides the change notifications (a notification lost while the bus
   * was down). @default 10000
   */
  resyncMs?: number;
}

/**
 * The sources running anywhere in the cluster (gateways and workers) and what they announced, kept current
 * from the bus: presence changes (`watchInterest`) and announcements (live `cluster.source.*`) trigger a
 * re-read, as does the bus coming back and a periodic resync. Reads are per change, never per message.
 */
export class SourceDirectory {
  readonly #options: SourceDirectoryOptions;
  #announcements: readonly SourceAnnouncement[] = [];
  #key = '[]';
  #subscriptions: Subscription[] = [];
  #timer: NodeJS.Timeout | undefined;
  #stopState: (() => void) | undefined;
  #reading: Promise<void> | undefined;
  #again = false;
  #closed = false;

  private constructor(options: SourceDirectoryOptions) {
    this.#options = options;
  }

  /** Starts watching; resolves after the first read (or its failure: the directory keeps trying). */
  static async start(options: SourceDirectoryOptions): Promise<SourceDirectory> {
    const directory = new SourceDirectory(options);
    await directory.#start();
    return directory;
  }

  async #start(): Promise<void> {
    const { bus } = this.#options;
    this.#stopState = bus.onStateChange((state) => {
      if (state === 'connected') {
        void this.resync();
      }
    });
    this.#timer = setInterval(() => void this.resync(), this.#options.resyncMs ?? 10_000);
    this.#timer.unref();
    await this.#watch();
    await this.resync();
  }

  /** Subscribes to presence changes and announcements; retried at each resync until it holds. */
  async #watch(): Promise<void> {
    if (this.#subscriptions.length === 2 || this.#closed) {
      return;
    }
    const { bus } = this.#options;
    try {
      const changes = await bus.watchInterest(sourceAnnouncementPrefix, () => void this.resync());
      const announcements = await bus.subscribe(`${sourceAnnouncementPrefix}*`, () => void this.resync()).catch(async (error: unknown) => {
        await changes.unsubscribe();
        throw error;
      });
      this.#subscriptions = [changes, announcements];
    } catch (error) {
      this.#options.onFailure?.(error);
    }
  }

  /** Re-reads every announcement now (coalesced: one read at a time, one more if asked meanwhile). */
  resync(): Promise<void> {
    if (this.#reading !== undefined) {
      this.#again = true;
      return this.#reading;
    }
    this.#reading = (async () => {
      do {
        this.#again = false;
        await this.#read();
      } while (this.#rereadWanted());
    })().finally(() => {
      this.#reading = undefined;
    });
    return this.#reading;
  }

  async #read(): Promise<void> {
    if (this.#closed) {
      return;
    }
    const { bus } = this.#options;
    await this.#watch();
    let next: SourceAnnouncement[];
    try {
      const topics = await bus.interestedTopics(sourceAnnouncementPrefix);
      const latest = await bus.latestMany(topics);
      next = latest.flatMap((envelope) => {
        const parsed = sourceAnnouncementSchema.safeParse(envelope?.data);
        return parsed.success ? [parsed.data] : [];
      });
    } catch (error) {
      this.#options.onFailure?.(error);
      return;
    }
    next.sort((a, b) => `${a.node}.${a.source}`.localeCompare(`${b.node}.${b.source}`));
    const key = JSON.stringify(next);
    if (key !== this.#key && !this.#rereadBlocked()) {
      this.#key = key;
      this.#announcements = next;
      this.#options.onChange?.(this);
    }
  }

  // Methods, not the fields: TypeScript would narrow them across the awaits that change them.
  #rereadWanted(): boolean {
    return this.#again && !this.#closed;
  }

  #rereadBlocked(): boolean {
    return this.#closed;
  }

  /** Every running source's announcement, one per (process, source). */
  get announcements(): readonly SourceAnnouncement[] {
    return this.#announcements;
  }

  /** True when some running source publishes topics of this kind. */
  serves(kind: TopicKind): boolean {
    return this.#announcements.some((a) => a.topics.some((t) => t.kind === kind));
  }

  /** Strategy names with a running source (from `strategy` declarations), sorted. */
  strategies(): string[] {
    const names = new Set<string>();
    for (const announcement of this.#announcements) {
      for (const topic of announcement.topics) {
        const name = topic.kind === 'strategy' ? strategyOfPattern(topic.pattern) : undefined;
        if (name !== undefined) {
          names.add(name);
        }
      }
    }
    return [...names].sort();
  }

  /** Signal producer names with a running source, sorted. */
  signalProducers(): string[] {
    const names = new Set<string>();
    for (const announcement of this.#announcements) {
      for (const topic of announcement.topics) {
        if (topic.kind === 'signals' && topic.producer !== undefined) {
          names.add(topic.producer);
        }
      }
    }
    return [...names].sort();
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    this.#stopState?.();
    await this.#reading?.catch(() => undefined);
    await Promise.allSettled(this.#subscriptions.map((s) => s.unsubscribe()));
    this.#subscriptions = [];
  }
}
