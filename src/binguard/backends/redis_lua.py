"""The Lua scripts of the Redis budget store: one atomic script per store operation.

Kept as Python strings rather than a .lua data file so that they ship with the module and need no
package-data entry. Every script receives all the keys it touches in KEYS (Redis Cluster safe, as
the store puts one hash tag in front of every key), does its arithmetic on the counters of one
window hash, and sets the hash to expire by itself some intervals after its last write.

A window hash (one per limit, scope identity and window start) holds:
    used      units charged in the window (reservations, corrected by response headers)
    flight    units reserved by requests that have not ended yet (for ORDERS reconciliation)
    m:<who>   units granted to one store instance in the window (fairness)
    w:<who>   the largest charge refused to that instance in the window: its claim on the next one

Times: `now` comes from the caller (Binance's corrected clock) and aligns the windows. Redis `TIME`
is read only to size expiries of ban/pause keys and is returned to the caller as a cross-check.
Integers above 2^53 never occur (epoch milliseconds are about 2^41).
"""

from __future__ import annotations

# KEYS: ban, pause, then (current window hash, previous window hash) for every charged limit.
# ARGV: now, member, fair (0|1), fair_retry_ms, ttl_factor, then (limit, amount, start, interval).
# Returns {status, until, index (1-based, the limit that decides `until`), redis_ms, used...}
# status 0 granted (used = counts after the grant), 1 banned, 2 paused, 3 refused by a limit.
RESERVE = """
local now = tonumber(ARGV[1])
local me = ARGV[2]
local fair = ARGV[3] == '1'
local retry = tonumber(ARGV[4])
local ttl = tonumber(ARGV[5])
local t = redis.call('TIME')
local rnow = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ban = tonumber(redis.call('GET', KEYS[1]) or '0')
if ban > now then return {1, ban, 0, rnow} end
local pause = tonumber(redis.call('GET', KEYS[2]) or '0')
if pause > now then return {2, pause, 0, rnow} end
local n = (#ARGV - 5) / 4
local used, stops = {}, {}
local until_ms, which = -1, 0
for i = 1, n do
  local a = 5 + (i - 1) * 4
  local limit, amount = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
  local start, ivl = tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4])
  local cur = KEYS[1 + 2 * i]
  local u = tonumber(redis.call('HGET', cur, 'used') or '0')
  used[i] = u
  local stop = nil
  if u + amount > limit then
    stop = start + ivl
  elseif fair then
    -- Others refused in the previous window hold a claim until granted that much in this one;
    -- while any claim is open, nobody takes more than an equal share of the window.
    local prev = redis.call('HGETALL', KEYS[2 + 2 * i])
    local others = 0
    for j = 1, #prev, 2 do
      local f = prev[j]
      if string.sub(f, 1, 2) == 'w:' and string.sub(f, 3) ~= me then
        local got = tonumber(redis.call('HGET', cur, 'm:' .. string.sub(f, 3)) or '0')
        if got < tonumber(prev[j + 1]) then others = others + 1 end
      end
    end
    if others > 0 then
      local mine = tonumber(redis.call('HGET', cur, 'm:' .. me) or '0')
      if mine >= math.ceil(limit / (others + 1)) then
        stop = math.min(start + ivl, now + retry)
      end
    end
  end
  if stop then
    stops[#stops + 1] = {cur, amount, ivl}
    if stop > until_ms then until_ms, which = stop, i end
  end
end
if until_ms >= 0 then
  if fair then
    for _, s in ipairs(stops) do
      local had = tonumber(redis.call('HGET', s[1], 'w:' .. me) or '0')
      if s[2] > had then redis.call('HSET', s[1], 'w:' .. me, s[2]) end
      redis.call('PEXPIRE', s[1], s[3] * ttl)
    end
  end
  return {3, until_ms, which, rnow, unpack(used)}
end
for i = 1, n do
  local a = 5 + (i - 1) * 4
  local amount, ivl = tonumber(ARGV[a + 2]), tonumber(ARGV[a + 4])
  local cur = KEYS[1 + 2 * i]
  used[i] = redis.call('HINCRBY', cur, 'used', amount)
  redis.call('HINCRBY', cur, 'flight', amount)
  if fair then redis.call('HINCRBY', cur, 'm:' .. me, amount) end
  redis.call('PEXPIRE', cur, ivl * ttl)
end
return {0, 0, 0, rnow, unpack(used)}
"""

# KEYS: window hashes of the held reservations. ARGV: (amount, refund) per key.
# A window that has expired is not recreated: its counts no longer matter.
SETTLE = """
for i = 1, #KEYS do
  local k = KEYS[i]
  if redis.call('EXISTS', k) == 1 then
    local amount, refund = tonumber(ARGV[2 * i - 1]), tonumber(ARGV[2 * i])
    if redis.call('HINCRBY', k, 'flight', -amount) < 0 then redis.call('HSET', k, 'flight', 0) end
    if refund > 0 and redis.call('HINCRBY', k, 'used', -refund) < 0 then
      redis.call('HSET', k, 'used', 0)
    end
  end
end
return #KEYS
"""

# KEYS: window hashes. ARGV: ttl_factor, then (count, can_decrease 0|1, interval) per key.
# Weight: max(used, count), never down. ORDERS: what is still in flight plus the server's count.
OBSERVE = """
local ttl = tonumber(ARGV[1])
local out = {}
for i = 1, #KEYS do
  local k = KEYS[i]
  local count, ivl = tonumber(ARGV[3 * i - 1]), tonumber(ARGV[3 * i + 1])
  local used
  if ARGV[3 * i] == '1' then
    used = tonumber(redis.call('HGET', k, 'flight') or '0') + count
  else
    used = math.max(tonumber(redis.call('HGET', k, 'used') or '0'), count)
  end
  redis.call('HSET', k, 'used', used)
  redis.call('PEXPIRE', k, ivl * ttl)
  out[i] = used
end
return out
"""

# KEYS: the ban or pause key. ARGV: until (caller's clock, ms), grace_ms. A later block wins.
# The value decides; the expiry (Redis clock plus a generous grace) only collects the key.
BLOCK = """
local t = redis.call('TIME')
local rnow = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local until_ms = tonumber(ARGV[1])
if until_ms > tonumber(redis.call('GET', KEYS[1]) or '0') then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', math.max(until_ms - rnow, 0) + tonumber(ARGV[2]))
end
return rnow
"""

# KEYS: window hashes. ARGV: ttl_factor, then (known_used, delta_used, delta_flight, interval).
# Return from the local fallback: what this process admitted alone is added on top of what the
# fleet is known to have used, so a Redis that restarted empty is brought back up, not left at 0.
MERGE = """
local ttl = tonumber(ARGV[1])
for i = 1, #KEYS do
  local k = KEYS[i]
  local known, du = tonumber(ARGV[4 * i - 2]), tonumber(ARGV[4 * i - 1])
  local df, ivl = tonumber(ARGV[4 * i]), tonumber(ARGV[4 * i + 1])
  local used = math.max(tonumber(redis.call('HGET', k, 'used') or '0'), known) + du
  redis.call('HSET', k, 'used', used)
  if df > 0 then redis.call('HINCRBY', k, 'flight', df) end
  redis.call('PEXPIRE', k, ivl * ttl)
end
return #KEYS
"""
