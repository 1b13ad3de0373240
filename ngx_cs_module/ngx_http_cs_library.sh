#!/bin/sh
# Prints the desk's Redis Functions library (FUNCTION LOAD, Redis 7 and
# later) but its first line, built from the .lua files in this directory:
# the shared files, once, then every script as one function,
# <library>_<script>, called with FCALL <library>_<script> 1 <prefix> ....
#
# nginx puts "#!lua name=<library>" and "local LIB = '<library>_'" in
# front (ngx_http_cs_library.c; <library> is cs_ and the text's SHA-1), so
# that two builds of the module never share a name.  `config` embeds the
# text; the tests load it as nginx does.
#
# Usage: ngx_http_cs_library.sh <dir of the .lua files>

set -e

dir=${1:-.}

for part in routing metrics common insights user library; do
    cat "$dir/ngx_http_cs_$part.lua"
done

# the scripts, each with its prelude: none for the intake; the caller's
# check for the endpoints with one (and the sweep); with the user's key
# names too for users/export and users/erase.  Each is called by its name,
# which ngx_http_cs_library.c lists too (NGX_HTTP_CS_SCRIPT_* in
# ngx_http_cs_redis.h are their indexes there).
for script in intake me ticket_get agent_put agent_token agent_presence \
              agents_list agent_delete ticket_message ticket_status \
              ticket_assign ticket_fields tickets_list agent_queue \
              sweep ticket_feedback user_export user_erase metrics_get \
              trends insights_list
do
    case $script in
        intake) prelude=nil ;;
        user_*) prelude=user_prelude ;;
        *)      prelude=common_prelude ;;
    esac

    # the reads: they run on a Redis over its maxmemory, or under CLIENT
    # PAUSE WRITE, as a read command would (a write in one is an error)
    case $script in
        me|ticket_get|agents_list|tickets_list|agent_queue|metrics_get|\
        trends|insights_list)
            flags="'no-writes'" ;;
        *)
            flags= ;;
    esac

    echo
    echo "redis.register_function{function_name = LIB .. '$script',"
    echo "flags = {$flags}, callback = desk($prelude, function()"
    cat "$dir/ngx_http_cs_$script.lua"
    echo "end)}"
done
