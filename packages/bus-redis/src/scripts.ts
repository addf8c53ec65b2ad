import { createHash } from 'node:crypto';

/** A Lua script run with EVALSHA (loaded on every connect), EVAL as the fallback after a SCRIPT FLUSH. */
export interface LuaScript {
  readonly source: string;
  readonly sha: string;
}

function script(source: string): LuaScript {
  return { source, sha: createHash('sha1').update(source).digest('hex') };
}

// Redis server time in ms: history ages are measured on one clock, whatever the publishers' clocks say.
const NOW = `
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
`;

// The topic's sequence: the epoch is created once (from the caller's random candidate), seq grows by one.
const NEXT_ID = `
local function next_id(meta, candidate)
  redis.call('HSETNX', meta, 'epoch', candidate)
  local epoch = redis.call('HGET', meta, 'epoch')
  local seq = redis.call('HINCRBY', meta, 'seq', 1)
  return epoch, seq, epoch .. ':' .. string.format('%d', seq)
end
`;

/**
 * KEYS: meta, latest. ARGV: channel, epoch candidate, envelope head (JSON up to `"id":"`), ttl ms (0: kept),
 * publish command (`PUBLISH`, or `SPUBLISH` on a Redis Cluster: the channel shares the keys' slot).
 * Stores and publishes `head .. id .. '"}'`; returns the id. With a ttl (presence topics) both keys expire
 * that long after the last publish.
 */
export const PUBLISH_LATEST = script(`${NEXT_ID}
local _, _, id = next_id(KEYS[1], ARGV[2])
local message = ARGV[3] .. id .. '"}'
local ttl = tonumber(ARGV[4]) or 0
if ttl > 0 then
  redis.call('SET', KEYS[2], message, 'PX', ttl)
  redis.call('PEXPIRE', KEYS[1], ttl)
else
  redis.call('SET', KEYS[2], message)
end
redis.call(ARGV[5], ARGV[1], message)
return id
`);

/**
 * KEYS: meta, history. ARGV: channel, epoch candidate, envelope head, maxLength, maxAgeMs, publish command.
 * History entries are "<seq>:<prev history seq>:<stored at ms>:<envelope JSON>", oldest first: `prev` lets a
 * reader prove that nothing between two entries was lost. Returns the id.
 */
export const APPEND = script(`${NOW}${NEXT_ID}
local _, seq, id = next_id(KEYS[1], ARGV[2])
local prev = tonumber(redis.call('HGET', KEYS[1], 'hseq')) or 0
local max_age = tonumber(ARGV[5])
redis.call('HSET', KEYS[1], 'hseq', string.format('%d', seq), 'age', ARGV[5])
local now = now_ms()
local message = ARGV[3] .. id .. '"}'
redis.call('RPUSH', KEYS[2], string.format('%d:%d:%d:', seq, prev, now) .. message)
redis.call('LTRIM', KEYS[2], -tonumber(ARGV[4]), -1)
local cutoff = now - max_age
while true do
  local oldest = redis.call('LINDEX', KEYS[2], 0)
  if not oldest then break end
  if tonumber(string.match(oldest, '^%d+:%d+:(%d+):')) >= cutoff then break end
  redis.call('LPOP', KEYS[2])
end
if max_age > 0 then redis.call('PEXPIRE', KEYS[2], max_age) end
redis.call(ARGV[6], ARGV[1], message)
return id
`);

/**
 * KEYS: meta, history. ARGV: epoch candidate, since epoch, since seq, since publishedAt (as JSON, '' if unknown).
 * Creates the sequence if missing (so the returned position stays valid), then walks the history from the
 * newest entry back to `since` (or to the first expired entry). Returns
 * {epoch, seq, history seq, gap (1/0), envelopes oldest first, diverged (1/0)}. A since of another epoch, or
 * beyond seq, reads everything retained; so does one whose entry has another publishedAt (diverged: the id
 * was given again after a failover lost the message it named).
 */
export const READ_SINCE = script(`${NOW}
redis.call('HSETNX', KEYS[1], 'epoch', ARGV[1])
local m = redis.call('HMGET', KEYS[1], 'epoch', 'seq', 'hseq', 'age')
local epoch = m[1]
local seq = tonumber(m[2]) or 0
local hseq = tonumber(m[3]) or 0
local max_age = tonumber(m[4]) or -1
local since = -1
if ARGV[2] == epoch then
  local s = tonumber(ARGV[3])
  if s ~= nil and s <= seq then since = s end
end
local cutoff = nil
if max_age >= 0 then cutoff = now_ms() - max_age end
local newest_first = {}
local gap = nil
local diverged = 0
local oldest_prev = nil
local i = redis.call('LLEN', KEYS[2]) - 1
while i >= 0 and gap == nil do
  local from = math.max(0, i - 63)
  local chunk = redis.call('LRANGE', KEYS[2], from, i)
  for j = #chunk, 1, -1 do
    local entry = chunk[j]
    local s, p, at, body = string.match(entry, '^(%d+):(%d+):(%d+):()')
    s = tonumber(s)
    if cutoff ~= nil and tonumber(at) < cutoff then
      gap = s > since
      break
    end
    if s == since and ARGV[4] ~= '' and string.match(entry, '"publishedAt":([^,]*),', body) ~= ARGV[4] then
      diverged = 1
      since = -1
    end
    if s <= since then
      gap = false
      break
    end
    newest_first[#newest_first + 1] = string.sub(entry, body)
    oldest_prev = tonumber(p)
  end
  i = from - 1
end
if gap == nil then
  gap = (oldest_prev or hseq) > since
end
local messages = {}
for k = #newest_first, 1, -1 do messages[#messages + 1] = newest_first[k] end
return {epoch, string.format('%d', seq), string.format('%d', hseq), gap and 1 or 0, messages, diverged}
`);

// Interest. Layout under the interest base I (`<prefix>interest:`; `<prefix>{interest}:` on a Redis Cluster,
// where the hash tag keeps every interest key in one slot so that each script stays on one node):
//   I .. nodes            SET  node ids that have (or had) interest
//   I .. alive:<node>     STRING with PX = the node's TTL; refreshed by the node's timer
//   (the four others expire after twice the TTL of the last node that renewed them: see below)
//   I .. node:<node>      SET  topics the node is interested in
//   I .. topic:<topic>    SET  nodes interested in the topic
//   I .. topics           ZSET all topics with interest, score 0 (lexicographic prefix queries)
// A notice "1<topic>" / "0<topic>" is published on the notice channel exactly when a topic's node set
// becomes non-empty / empty. Every interest script gets KEYS[1] = I .. nodes (so a cluster client routes it
// to the node of the interest slot) and ARGV: I, notice channel, publish command, then its own arguments.
//
// Expiry: nothing here outlives the processes that write it. The alive key expires after the node's TTL;
// every other key expires after twice that (the linger) unless a live node renews it: a node renews its own
// set, the sets of its topics and the shared index on every refresh. The alive key always goes first, so a
// live node sweeps a dead one (publishing its "0" notices) before its sets could vanish unannounced; the
// linger only ever runs out when no process is left to sweep.
const INTEREST_LIB = `
local I = ARGV[1]
local NOTICE = ARGV[2]
local PUBLISH = ARGV[3]
local function linger(ttl)
  return 2 * tonumber(ttl)
end
-- Only ever lengthens: a node with a short TTL must not cut the expiry a node with a longer one set.
local function extend(key, ms)
  if redis.call('PTTL', key) < ms then redis.call('PEXPIRE', key, ms) end
end
local function add_topic(node, topic, ttl)
  local node_key = I .. 'node:' .. node
  local key = I .. 'topic:' .. topic
  local index = I .. 'topics'
  redis.call('SADD', node_key, topic)
  if redis.call('SADD', key, node) == 1 and redis.call('SCARD', key) == 1 then
    redis.call('ZADD', index, 0, topic)
    redis.call(PUBLISH, NOTICE, '1' .. topic)
  end
  extend(node_key, linger(ttl))
  extend(key, linger(ttl))
  extend(index, linger(ttl))
end
local function remove_topic(node, topic)
  redis.call('SREM', I .. 'node:' .. node, topic)
  local key = I .. 'topic:' .. topic
  if redis.call('SREM', key, node) == 1 and redis.call('EXISTS', key) == 0 then
    redis.call('ZREM', I .. 'topics', topic)
    redis.call(PUBLISH, NOTICE, '0' .. topic)
  end
end
local function touch(node, ttl)
  redis.call('SET', I .. 'alive:' .. node, '1', 'PX', ttl)
  redis.call('SADD', I .. 'nodes', node)
  extend(I .. 'nodes', linger(ttl))
end
local function renew(node, ttl)
  touch(node, ttl)
  local node_key = I .. 'node:' .. node
  local topics = redis.call('SMEMBERS', node_key)
  if #topics == 0 then return end
  extend(node_key, linger(ttl))
  extend(I .. 'topics', linger(ttl))
  for _, topic in ipairs(topics) do
    extend(I .. 'topic:' .. topic, linger(ttl))
  end
end
local function remove_node(node)
  for _, topic in ipairs(redis.call('SMEMBERS', I .. 'node:' .. node)) do
    remove_topic(node, topic)
  end
  redis.call('DEL', I .. 'node:' .. node, I .. 'alive:' .. node)
  redis.call('SREM', I .. 'nodes', node)
end
`;

/** ARGV: I, notice, publish, node, ttl, topic. */
export const DECLARE_INTEREST = script(`${INTEREST_LIB}
touch(ARGV[4], ARGV[5])
add_topic(ARGV[4], ARGV[6], ARGV[5])
return 1
`);

/** ARGV: I, notice, publish, node, topic. */
export const RELEASE_INTEREST = script(`${INTEREST_LIB}
remove_topic(ARGV[4], ARGV[5])
return 1
`);

/** ARGV: I, notice, publish, node, ttl, topics... Makes the node's stored interest exactly `topics`. */
export const SYNC_INTEREST = script(`${INTEREST_LIB}
local node = ARGV[4]
touch(node, ARGV[5])
local wanted = {}
for k = 6, #ARGV do wanted[ARGV[k]] = true end
for _, topic in ipairs(redis.call('SMEMBERS', I .. 'node:' .. node)) do
  if not wanted[topic] then remove_topic(node, topic) end
end
for topic in pairs(wanted) do add_topic(node, topic, ARGV[5]) end
return 1
`);

/**
 * ARGV: I, notice, publish, node, ttl. Renews the node's alive key and every key of its interest. Returns 0 when the node is
 * unknown (expired and swept, or data lost): sync needed.
 */
export const REFRESH_INTEREST = script(`${INTEREST_LIB}
if redis.call('SISMEMBER', I .. 'nodes', ARGV[4]) == 0 then return 0 end
renew(ARGV[4], ARGV[5])
return 1
`);

/** ARGV: I, notice, publish. Removes the interest of every node whose alive key expired; returns how many. */
export const SWEEP_INTEREST = script(`${INTEREST_LIB}
local removed = 0
for _, node in ipairs(redis.call('SMEMBERS', I .. 'nodes')) do
  if redis.call('EXISTS', I .. 'alive:' .. node) == 0 then
    remove_node(node)
    removed = removed + 1
  end
end
return removed
`);

/** ARGV: I, notice, publish, node. A clean shutdown: the node's interest goes at once. */
export const LEAVE_INTEREST = script(`${INTEREST_LIB}
remove_node(ARGV[4])
return 1
`);

export const ALL_SCRIPTS: readonly LuaScript[] = [
  PUBLISH_LATEST,
  APPEND,
  READ_SINCE,
  DECLARE_INTEREST,
  RELEASE_INTEREST,
  SYNC_INTEREST,
  REFRESH_INTEREST,
  SWEEP_INTEREST,
  LEAVE_INTEREST,
];
