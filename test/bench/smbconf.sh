# smbconf.sh: sourced by the bench scripts (lib.sh, serve_load.sh). Prints
# the [global] section every scratch smbd shares: it listens on PORT on
# loopback only and keeps all its state under DIR, so it never touches the
# host's Samba. Callers append their own [global] lines and shares.
#
#   bench_smbconf_global DIR PORT >"$DIR/smb.conf"
bench_smbconf_global() {
    local dir=$1 port=$2
    mkdir -p "$dir"/{private,lock,state,cache,pid,ncalrpc,log}
    cat <<CONF
[global]
   workgroup = BENCH
   netbios name = BENCHSRV
   server role = standalone server
   smb ports = $port
   interfaces = lo
   bind interfaces only = yes
   disable netbios = yes
   private dir = $dir/private
   lock directory = $dir/lock
   state directory = $dir/state
   cache directory = $dir/cache
   pid directory = $dir/pid
   ncalrpc dir = $dir/ncalrpc
   log file = $dir/log/log.%m
   passdb backend = tdbsam:$dir/private/passdb.tdb
   load printers = no
   printing = bsd
   printcap name = /dev/null
CONF
}
