-- The last shared file of the desk's library, after the routing, figures,
-- prelude, insights and user files: desk() makes each script a function
-- of the library (ngx_http_cs_library.sh registers them, one per script).
--
-- The shared files are defined once, when Redis loads the library, and
-- not again on every call, as an EVAL script's would be.  What belongs to
-- one call (its keys and arguments, the prefix, the prelude's caller) is
-- set by the call itself, first: a function runs alone, start to end, so
-- no two calls ever share it.

-- the function FCALL runs: the call's own state, then prelude (nil, or
-- common_prelude or user_prelude), then the script
local function desk(prelude, script)
    return function(keys, args)
        KEYS, ARGV, p = keys, args, keys[1]
        METRICS = p .. 'metrics'
        static_agents = false
        -- the preludes' (the intake runs none): never an earlier call's
        role, who, proof, param = nil, nil, nil, nil
        USER_ID, UKEY, OLD_UKEY = nil, nil, nil
        if prelude then
            prelude()
        end
        return script()
    end
end
