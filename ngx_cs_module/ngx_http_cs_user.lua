-- What the desk stores about a user, in one place, for users/export and
-- users/erase (the library has it after ngx_http_cs_common.lua; the
-- two run user_prelude() first).  A branch that adds a ticket field of
-- personal data (an encrypted twin such as issue_enc), or a figure of the
-- present (a gauge an open ticket holds), adds it to the tables here.
--
-- ARGV[6..8]: the userId, the name of the user's keys (<ukey>: nginx's
-- HMAC of the userId under cs_secret, purpose "key") and the name under
-- the old cs_secret ('' for none).  The script's own arguments follow.

local USER_ID, UKEY, OLD_UKEY

-- the part of the prelude of users/export and users/erase
local function user_prelude()
    common_prelude()
    USER_ID, UKEY, OLD_UKEY = ARGV[6], ARGV[7], ARGV[8]
end

-- the ticket's fields never exported: secrets
local SECRET_FIELDS = {nonce = true, seal = true}

-- the ticket's fields that hold personal data or tie the ticket to its
-- user: anonymize writes '' in those given '' (whether the ticket had it
-- or its sealed twin) and deletes those given false (absent optional
-- fields are not written); cs_encrypt_key's sealed twins (<name>_enc,
-- and the seal they are bound to) included
local PERSONAL_FIELDS = {
    userId = false, userKey = false, userProven = false, nonce = false,
    idemKey = false, issue = '', email = false, feedbackComment = false,
    issue_enc = false, email_enc = false, feedbackComment_enc = false,
    seal = false,
}

-- the fields of a message (JSON in <prefix>ticket:<id>:messages) that
-- anonymize blanks: '' writes '', false deletes
local MESSAGE_PERSONAL_FIELDS = {body = '', body_enc = false}

-- cs_encrypt_key's sealed fields, exported opened under the plain name:
-- {plain name, whose associated data ('seal': the ticket's seal, the
-- intake's words; 'ticket': its id), the field in it}
local SEALED_FIELDS = {
    issue_enc = {'issue', 'seal', 'issue'},
    email_enc = {'email', 'seal', 'email'},
    feedbackComment_enc = {'feedbackComment', 'ticket', 'comment'},
}

-- a sealed field of ticket t (id) as export shows it: its plain name and
-- the value nginx opens (seal_of(), ngx_http_cs_common.lua)
local function opened(id, t, name)
    local s = SEALED_FIELDS[name]
    local ref = s[2] == 'seal' and 'seal:' .. (t.seal or '')
                or 'ticket:' .. id
    return s[1], seal_of(ref, s[3], t[name])
end

-- the ticket's fields exported as numbers
local NUMERIC_FIELDS = {
    id = true, createdAt = true, updatedAt = true, firstResponseAt = true,
    solvedAt = true, firstSolvedAt = true, closedAt = true,
    feedbackAt = true, feedbackUpdatedAt = true, csat = true, ces = true,
}

-- the figures of the present that an erased ticket leaves, beside its
-- queue, the backlog, the closing set, its state's index and its agent's
-- load (done by erase_present): {key after the prefix, field}, each
-- decremented by one; {state}, {agent}, {category}, {priority} and
-- {channel} are the ticket's (a pattern naming a field the ticket lacks
-- is skipped).  The past (ratings, volumes, trends, times, a rule's
-- answered) keeps its counts.
local PRESENT_FIGURES = {
    -- e.g. {'metrics', 'open:{state}'}
}

-- the user's keys: the record and the history, under the current name
-- and, with cs_secret new old, the old one
local function user_keys()
    local u = {{record = p .. 'user:' .. UKEY,
                history = p .. 'user:' .. UKEY .. ':tickets'}}
    if OLD_UKEY ~= '' and OLD_UKEY ~= UKEY then
        u[2] = {record = p .. 'user:' .. OLD_UKEY,
                history = p .. 'user:' .. OLD_UKEY .. ':tickets'}
    end
    return u
end

-- a read of a user's key, or nil and the error reply (its name masked)
local function user_read(shown, ...)
    local r = redis.pcall(...)
    if type(r) == 'table' and r.err then
        return nil, redis.error_reply('CSWRONGTYPE ' .. p .. shown)
    end
    return r
end

-- the user's records and histories: {record = hash or nil, len = n} for
-- each name, or nil and the error reply
local function user_state()
    local u = user_keys()
    for _, k in ipairs(u) do
        local flat, e = user_read('user:*', 'HGETALL', k.record)
        if e then
            return nil, e
        end
        if #flat > 0 then
            k.fields = {}
            for i = 1, #flat, 2 do
                k.fields[flat[i]] = flat[i + 1]
            end
        end
        k.len, e = user_read('user:*:tickets', 'LLEN', k.history)
        if e then
            return nil, e
        end
    end
    return u
end

-- the pattern's field for ticket t, or nil when t lacks a part of it
local function figure_field(pattern, t)
    local missing = false
    local field = string.gsub(pattern, '{(%w+)}', function(name)
        local v = t[name]
        if not v then
            missing = true
            return ''
        end
        return v
    end)
    if missing then
        return nil
    end
    return field
end
