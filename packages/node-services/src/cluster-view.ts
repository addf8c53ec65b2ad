import { randomBytes } from 'node:crypto';
import type { Bus, InterestLease, Subscription } from '@gw/bus';
import type { Logger } from '@gw/core';
import { mergeMemberAnswers } from './aggregate.js';
import { startPresence } from './presence.js';
import type { ClusterView, GatherResult, MemberSummary, MergeAnswers, NodeGatherResult, NodeSummary } from './types.js';

export interface ClusterOptions {
  /** This process's bus; its `nodeId` is the member id. */
  bus: Bus;
  /**
   * The node this process is a member of, when the node runs as several processes (its event loops and their
   * supervisor share it, each with its own member id). Default: `bus.nodeId` (one process, one node).
   */
  nodeId?: string | undefined;
  logger: Logger;
  summary: () => MemberSummary;
  /** How often this member republishes its summary. */
  publishIntervalMs: number;
  /** How long `gather` and `gatherNode` wait for the other members. */
  gatherTimeoutMs: number;
}

/** A question, on `cluster.request` (every member) or `cluster.request.<node>` (the node's members). */
interface ClusterRequest {
  id: string;
  kind: string;
  reply_to: string;
  /** The asking member, which answers itself in process. */
  from?: string;
}

/**
 * One member's reply. `member_id` is absent from a member that predates multi-process nodes (its member id is
 * its node id); `none` says the member provides nothing for the kind (it counts as answered).
 */
interface ClusterReply {
  node_id: string;
  member_id?: string;
  answer?: unknown;
  none?: true;
}

/** A member's summary as published: its own figures plus who it is. */
type PublishedSummary = MemberSummary & { node_id: string; member_id?: string };

interface Provider {
  answer: () => unknown;
  merge: MergeAnswers<unknown>;
}

const nodeTopicPrefix = 'cluster.node.';
const memberTopicPrefix = 'cluster.member.';
const requestTopic = 'cluster.request';
const nodeRequestPrefix = 'cluster.request.';

/** Topic-safe, dot-free text for an id, so `<node>.<member>` splits back unambiguously. */
function topicPart(value: string): string {
  return encodeURIComponent(value).replace(/\./g, '%2E').replace(/\*/g, '%2A');
}

/** The member a `cluster.member.<node>.<member>` topic names, or undefined for a foreign topic. */
function parseMemberTopic(topic: string): { nodeId: string; memberId: string } | undefined {
  const parts = topic.slice(memberTopicPrefix.length).split('.');
  if (parts.length !== 2) {
    return undefined;
  }
  try {
    return { nodeId: decodeURIComponent(parts[0] ?? ''), memberId: decodeURIComponent(parts[1] ?? '') };
  } catch {
    return undefined;
  }
}

/** `bus` of the merged summary: `connected` only when every member is; otherwise the first other state. */
function worstBusState(states: readonly string[]): string {
  return states.find((state) => state !== 'connected') ?? 'connected';
}

/** One node's entry for `nodes()`, from its members' summaries (sorted by member id). */
function mergeSummaries(nodeId: string, summaries: readonly PublishedSummary[]): NodeSummary {
  const startedAt = summaries.map((s) => s.started_at).reduce((earliest, s) => (s < earliest ? s : earliest));
  return {
    node_id: nodeId,
    members: summaries.length,
    started_at: startedAt,
    connections: mergeMemberAnswers(summaries.map((s) => s.connections)),
    draining: summaries.some((s) => s.draining),
    bus: worstBusState(summaries.map((s) => s.bus)),
  };
}

/**
 * The cluster through the bus, per node, whatever the number of processes (members) a node runs.
 *
 * Presence: each member declares interest in `cluster.node.<member>` (kept alive while it runs, expired when
 * it dies) and publishes its summary there as a latest value, naming its node; it also declares interest in
 * `cluster.member.<node>.<member>`, so the members of one node are one range query away. `nodes()` merges the
 * summaries of each node.
 *
 * Questions: a request on `cluster.request` (every member) or `cluster.request.<node>` (one node's members)
 * names a reply topic; each member replies with its provider's value (or "none"); the asker answers itself in
 * process, waits for every other expected member or the timeout, and merges each node's answers with the
 * kind's merge. Cost is per question, not per message: nothing here is on the hot path; concurrent questions
 * of one kind and scope share one round.
 */
export async function startClusterView(options: ClusterOptions): Promise<ClusterView & { stop(): Promise<void> }> {
  const { bus, logger } = options;
  const memberId = bus.nodeId;
  const nodeId = options.nodeId ?? memberId;
  const providers = new Map<string, Provider>();
  const nodeRequestTopic = `${nodeRequestPrefix}${topicPart(nodeId)}`;
  const nodeMembersPrefix = `${memberTopicPrefix}${topicPart(nodeId)}.`;

  /** This member's reply to `kind`, computed in process. */
  const ownReply = async (kind: string): Promise<ClusterReply | undefined> => {
    const provider = providers.get(kind);
    if (provider === undefined) {
      return { node_id: nodeId, member_id: memberId, none: true };
    }
    try {
      // A provider may be asynchronous (a metrics registry is read asynchronously).
      return { node_id: nodeId, member_id: memberId, answer: await provider.answer() };
    } catch (error) {
      logger.error({ err: error, kind }, 'cluster provider failed');
      return undefined;
    }
  };

  const answer = async (request: ClusterRequest): Promise<void> => {
    if (request.from === memberId) {
      return;
    }
    const reply = await ownReply(request.kind);
    if (reply === undefined) {
      return;
    }
    await bus.publish<ClusterReply>(request.reply_to, reply).catch((error: unknown) => {
      logger.debug({ err: error }, 'cluster reply not published');
    });
  };
  // Listening before announcing: whoever sees this member as live gets its answers.
  const subscriptions: Subscription[] = [];
  const leases: InterestLease[] = [];
  const release = async (): Promise<void> => {
    await Promise.all([
      ...subscriptions.splice(0).map((s) => s.unsubscribe().catch(() => undefined)),
      ...leases.splice(0).map((l) => l.release().catch(() => undefined)),
    ]);
  };
  try {
    for (const topic of [requestTopic, nodeRequestTopic]) {
      subscriptions.push(await bus.subscribe<ClusterRequest>(topic, (message) => void answer(message.data)));
    }
    leases.push(await bus.declareInterest(`${nodeMembersPrefix}${topicPart(memberId)}`));
  } catch (error) {
    await release();
    throw error;
  }
  const presence = await startPresence({
    bus,
    logger,
    topic: `${nodeTopicPrefix}${memberId}`,
    summary: (): PublishedSummary => ({ ...options.summary(), node_id: nodeId, member_id: memberId }),
    publishIntervalMs: options.publishIntervalMs,
  }).catch(async (error: unknown) => {
    await release();
    throw error;
  });

  const mergeFor = (kind: string): MergeAnswers<unknown> => providers.get(kind)?.merge ?? mergeMemberAnswers;

  /**
   * Publishes one question on `topic` and collects the replies of `expected` members (this one answered in
   * process), until all replied or the timeout. Returns every reply by member id (`none` ones included).
   */
  const ask = async (topic: string, kind: string, expected: ReadonlySet<string>): Promise<Map<string, ClusterReply>> => {
    const replies = new Map<string, ClusterReply>();
    const own = ownReply(kind);
    const others = [...expected].filter((member) => member !== memberId);
    if (others.length > 0) {
      const id = randomBytes(8).toString('hex');
      const replyTo = `cluster.reply.${id}`;
      let done: () => void = () => undefined;
      const complete = new Promise<void>((resolve) => {
        done = resolve;
      });
      const subscription = await bus.subscribe<ClusterReply>(replyTo, (message) => {
        const reply = message.data;
        replies.set(reply.member_id ?? reply.node_id, reply);
        if (others.every((member) => replies.has(member))) {
          done();
        }
      });
      const timeout = setTimeout(done, options.gatherTimeoutMs);
      try {
        await bus.publish<ClusterRequest>(topic, { id, kind, reply_to: replyTo, from: memberId });
        await complete;
      } finally {
        clearTimeout(timeout);
        await subscription.unsubscribe().catch(() => undefined);
      }
    }
    const mine = await own;
    if (mine !== undefined) {
      replies.set(memberId, mine);
    }
    return replies;
  };

  /** Node id of each member, for members that did not reply (a reply names its node itself). */
  const nodesOfMembers = async (members: readonly string[]): Promise<Map<string, string>> => {
    const nodeOf = new Map<string, string>();
    if (members.length === 0) {
      return nodeOf;
    }
    const topics = await bus.interestedTopics(memberTopicPrefix).catch(() => []);
    for (const parsed of topics.map(parseMemberTopic)) {
      if (parsed !== undefined) {
        nodeOf.set(parsed.memberId, parsed.nodeId);
      }
    }
    // A member of an older version announces no node: its member id is its node id.
    return new Map(members.map((member) => [member, nodeOf.get(member) ?? member]));
  };

  const inFlight = new Map<string, Promise<unknown>>();
  /** One round per scope and kind at a time: concurrent callers share its result. */
  const shared = <R>(key: string, run: () => Promise<R>): Promise<R> => {
    const running = inFlight.get(key) as Promise<R> | undefined;
    if (running !== undefined) {
      return running;
    }
    const started = run().finally(() => inFlight.delete(key));
    inFlight.set(key, started);
    return started;
  };

  const gather = <T>(kind: string): Promise<GatherResult<T>> =>
    shared(`cluster:${kind}`, async () => {
      const members = (await bus.interestedTopics(nodeTopicPrefix)).map((t) => t.slice(nodeTopicPrefix.length));
      const replies = await ask(requestTopic, kind, new Set(members));
      const silent = [...new Set([...members, memberId])].filter((member) => !replies.has(member));
      const silentNodes = await nodesOfMembers(silent);
      const byNode = new Map<string, T[]>();
      const missing = new Set(silentNodes.values());
      const answered = new Set<string>();
      for (const reply of [...replies.values()].sort((a, b) => (a.member_id ?? a.node_id).localeCompare(b.member_id ?? b.node_id))) {
        answered.add(reply.node_id);
        if (reply.none !== true) {
          byNode.set(reply.node_id, [...(byNode.get(reply.node_id) ?? []), reply.answer as T]);
        }
      }
      // A node none of whose members provides the kind has no answer to count.
      for (const node of answered) {
        if (!byNode.has(node)) {
          missing.add(node);
        }
      }
      const merge = mergeFor(kind) as MergeAnswers<T>;
      return {
        answers: [...byNode].map(([node_id, answers]) => ({ node_id, answer: answers.length === 1 ? (answers[0] as T) : merge(answers) })),
        missing: [...missing].sort(),
      };
    });

  const gatherNode = <T>(kind: string): Promise<NodeGatherResult<T>> =>
    shared(`node:${kind}`, async () => {
      const members = (await bus.interestedTopics(nodeMembersPrefix)).flatMap((topic) => {
        const parsed = parseMemberTopic(topic);
        return parsed === undefined || parsed.nodeId !== nodeId ? [] : [parsed.memberId];
      });
      const replies = await ask(nodeRequestTopic, kind, new Set(members));
      const answered = [...replies.keys()].sort();
      const answers = answered.flatMap((member) => {
        const reply = replies.get(member);
        return reply === undefined || reply.none === true ? [] : [reply.answer as T];
      });
      const merge = mergeFor(kind) as MergeAnswers<T>;
      return {
        answer: answers.length <= 1 ? answers[0] : merge(answers),
        members: answered,
        missing: members.filter((member) => !replies.has(member)).sort(),
      };
    });

  const nodes = async (): Promise<NodeSummary[]> => {
    const topics = (await bus.interestedTopics(nodeTopicPrefix)).sort();
    const latest = await bus.latestMany<PublishedSummary>(topics);
    const byNode = new Map<string, PublishedSummary[]>();
    for (const envelope of latest) {
      if (envelope !== undefined) {
        const summary = envelope.data;
        byNode.set(summary.node_id, [...(byNode.get(summary.node_id) ?? []), summary]);
      }
    }
    return [...byNode].map(([node, summaries]) => mergeSummaries(node, summaries));
  };

  return {
    nodeId,
    memberId,
    provide: <T>(kind: string, provider: () => T | Promise<T>, merge?: MergeAnswers<T>) => {
      providers.set(kind, { answer: provider, merge: (merge ?? mergeMemberAnswers) as MergeAnswers<unknown> });
    },
    gather,
    gatherNode,
    nodes,
    stop: async () => {
      await release();
      await presence.stop();
    },
  };
}
