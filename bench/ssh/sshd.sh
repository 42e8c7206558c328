#!/usr/bin/env bash
# Starts a throwaway OpenSSH server on 127.0.0.1 for benchmarks, as the
# current user, with generated host and client keys, and writes an ssh client
# config with N aliases (h01, h02, ...) that all point at it.
#
#   bench/ssh/sshd.sh DIR [N]
#
# Leaves in DIR: ssh_config, hosts (comma-separated aliases), sshd.pid,
# sshd.log. Stop it with: kill "$(cat DIR/sshd.pid)".
set -euo pipefail
dir=${1:?usage: sshd.sh DIR [N]}
n=${2:-50}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
sshd=/usr/sbin/sshd
[ -x "$sshd" ] || { echo "sshd.sh: $sshd missing (apt-get install openssh-server)" >&2; exit 1; }
# Root's sshd wants its privilege separation directory.
if [ "$(id -u)" = 0 ]; then mkdir -p /run/sshd; fi

for k in host_key id_client; do
  rm -f "$dir/$k" "$dir/$k.pub"
  ssh-keygen -q -t ed25519 -N '' -C stormdesk-bench -f "$dir/$k"
done
cp "$dir/id_client.pub" "$dir/authorized_keys"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

# MaxStartups: the default 10:30:100 drops parallel handshakes beyond 10.
cat >"$dir/sshd_config" <<CONF
Port $port
ListenAddress 127.0.0.1
HostKey $dir/host_key
PidFile $dir/sshd.pid
AuthorizedKeysFile $dir/authorized_keys
StrictModes no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PermitRootLogin yes
MaxStartups 200
MaxSessions 200
LogLevel INFO
CONF

echo "[127.0.0.1]:$port $(cut -d' ' -f1,2 "$dir/host_key.pub")" >"$dir/known_hosts"
aliases=$(seq -f 'h%02g' 1 "$n" | tr '\n' ' ')
cat >"$dir/ssh_config" <<CONF
Host ${aliases% }
  HostName 127.0.0.1
  Port $port
  User $(id -un)
  IdentityFile $dir/id_client
  IdentitiesOnly yes
  IdentityAgent none
  UserKnownHostsFile $dir/known_hosts
  GlobalKnownHostsFile /dev/null
  StrictHostKeyChecking yes
  BatchMode yes
CONF
echo "${aliases% }" | tr ' ' ',' >"$dir/hosts"

: >"$dir/sshd.log"
"$sshd" -D -e -f "$dir/sshd_config" 2>>"$dir/sshd.log" </dev/null >/dev/null &
# Ready when sshd says it listens (no fixed sleep).
exec 3< <(tail -n +1 -F "$dir/sshd.log" 2>/dev/null)
tail_pid=$!
ready=
while IFS= read -r -t 20 -u 3 line; do
  case $line in *"Server listening"*) ready=1; break ;; esac
done
kill "$tail_pid" 2>/dev/null || true
exec 3<&-
if [ -z "$ready" ]; then
  echo "sshd.sh: sshd did not start:" >&2
  cat "$dir/sshd.log" >&2
  exit 1
fi
echo "sshd on 127.0.0.1:$port, $n aliases in $dir/ssh_config"
