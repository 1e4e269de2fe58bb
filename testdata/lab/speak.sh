#!/usr/bin/env bash
# speak.sh: the few bytes each side of a lab TCP flow says, so captures
# look like the protocols they stand for and carry what passive naming
# reads (HTTP Host, TLS SNI) besides DNS answers.
#
#   speak.sh kind PORT              the protocol lab.sh uses for PORT
#   speak.sh client KIND NAME LABEL the client's bytes on stdout
#   speak.sh server KIND            the server, on stdin/stdout (socat EXEC)
#
# Servers read until the client has finished sending (it half-closes)
# before they close, so every flow ends with FINs, never with an RST for
# unread data.
set -euo pipefail

kind() {
	case $1 in
	25 | 587) echo smtp ;;
	22) echo ssh ;;
	80 | 8080) echo http ;;
	443 | 465 | 993 | 995 | 8443 | 30443) echo tls ;;
	*) echo echo ;;
	esac
}

# hex2bin: bytes from a string of hex digits.
hex2bin() {
	local h=$1 out="" i
	for ((i = 0; i < ${#h}; i += 2)); do out+="\\x${h:i:2}"; done
	printf '%b' "$out"
}

# client_hello NAME: a TLS 1.2 ClientHello, with a server_name extension
# when NAME is not "-".
client_hello() {
	local name=$1 ext="" i c hname=""
	if [[ $name != - ]]; then
		for ((i = 0; i < ${#name}; i++)); do
			c=${name:i:1}
			hname+=$(printf '%02x' "'$c")
		done
		local n=${#name}
		ext=$(printf '0000%04x%04x00%04x' $((n + 5)) $((n + 3)) "$n")$hname
	fi
	# version, fixed random, no session id, two suites, null compression
	local body
	body="0303$(printf '5a%.0s' {1..32})00""0004c02f009c""0100"$(printf '%04x' $((${#ext} / 2)))$ext
	local hs
	hs="01$(printf '%06x' $((${#body} / 2)))$body"
	hex2bin "160301$(printf '%04x' $((${#hs} / 2)))$hs"
}

client() {
	local kind=$1 name=$2 label=$3
	case $kind in
	smtp) printf 'EHLO gateway.lab.test\r\nQUIT\r\n' ;;
	ssh) printf 'SSH-2.0-OpenSSH_9.2p1 lab-%s\r\n' "$label" ;;
	http) printf 'GET /%s HTTP/1.1\r\nHost: %s\r\nUser-Agent: flowaudit-lab\r\nConnection: close\r\n\r\n' "$label" "$name" ;;
	tls) client_hello "$name" ;;
	*) printf '%s\n' "$label" ;;
	esac
}

server() {
	case $1 in
	smtp)
		printf '220 mail.lab.test ESMTP lab\r\n'
		cat >/dev/null
		printf '250 mail.lab.test\r\n221 bye\r\n'
		;;
	ssh)
		printf 'SSH-2.0-OpenSSH_9.2p1 lab\r\n'
		cat >/dev/null
		;;
	http)
		cat >/dev/null
		printf 'HTTP/1.1 204 No Content\r\nServer: lab\r\nConnection: close\r\n\r\n'
		;;
	tls)
		cat >/dev/null
		hex2bin 15030300020228 # alert: fatal, handshake_failure
		;;
	*) cat ;;
	esac
}

case ${1:-} in
kind) kind "$2" ;;
client) client "$2" "$3" "$4" ;;
server) server "$2" ;;
*)
	echo "usage: speak.sh kind PORT | client KIND NAME LABEL | server KIND" >&2
	exit 2
	;;
esac
