#!/usr/bin/env bash
# `accord scand` with clamd's real clients, unchanged: clamdscan (Debian's clamdscan package) with a
# clamd.conf whose LocalSocket is accord's socket, and Debian's python3-pyclamd, over the unix socket
# and TCP. Detections of ClamAV's test file clam.exe by a one-line .hsb signature, clean files, a
# stream over the limit, RELOAD and a database replaced by `accord db build`.
# Usage: scand_test.sh ACCORD_BIN WORK_DIR. Exit 77 (skipped) only if a client is not installed
# (scripts/install-deps.sh installs them).
set -uo pipefail
accord=$(realpath "$1") work=$2
py=/usr/bin/python3  # Debian's, which has pyclamd (a pyenv python would not)
clam_exe=/usr/share/clamav-testfiles/clam.exe
for need in clamdscan "$py"; do
  command -v "$need" > /dev/null || { echo "SKIP: $need is not installed (scripts/install-deps.sh)"; exit 77; }
done
"$py" -c 'import pyclamd' 2> /dev/null || { echo "SKIP: python3-pyclamd is not installed"; exit 77; }
[ -f "$clam_exe" ] || { echo "SKIP: clamav-testfiles is not installed"; exit 77; }

rm -rf "$work" && mkdir -p "$work/files/dir" && cd "$work" || exit 1
work=$(pwd -P)
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok: $*"; }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
check() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }

cp "$clam_exe" files/clam.exe
cp "$clam_exe" files/dir/clam-copy.exe
printf 'a clean text file\n' > files/clean.txt
head -c 100000 /dev/urandom > files/dir/random.bin
printf 'clean until the database is rebuilt\n' > files/later.txt
sig() { printf '%s:%s:%s\n' "$(sha256sum "$1" | cut -d' ' -f1)" "$(stat -c %s "$1")" "$2"; }
sig files/clam.exe Accord.Test.ClamExe > sigs.hsb
"$accord" db build -o sigs.accdb --hashes sigs.hsb > /dev/null || { echo "FAIL: db build"; exit 1; }

sock=$work/scand.sock
"$accord" scand -d sigs.accdb --socket "$sock" --tcp 127.0.0.1:0 --watch-interval 0.2 \
  --max-stream-size 1M 2> scand.log &  # clamd.conf's way of writing 1 MiB
pid=$!
trap 'kill $pid 2> /dev/null; wait $pid 2> /dev/null' EXIT
for _ in $(seq 100); do
  grep -q "tcp port" scand.log && [ -S "$sock" ] && break
  sleep 0.1
done
port=$(sed -n 's/.*tcp port \([0-9]*\).*/\1/p' scand.log | head -n 1)
check "the daemon is listening on $sock and tcp port $port" '[ -S "$sock" ] && [ -n "$port" ]'
"$accord" scand -d sigs.accdb --socket "$work/never.sock" --max-stream-size 1.5M > out.txt 2> err.txt
check "a stream size clamd would not read either: exit 2 before listening" \
  '[[ $? == 2 ]] && grep -q -- "--max-stream-size \"1.5M\": not a size" err.txt && [ ! -e "$work/never.sock" ]'
printf 'LocalSocket %s\n' "$sock" > clamd.conf
printf 'TCPSocket %s\nTCPAddr 127.0.0.1\n' "$port" > clamd-tcp.conf

# ---- clamdscan
cds() { clamdscan --config-file="$work/clamd.conf" --no-summary "$@"; }
out=$(cds --stream files/clam.exe); rc=$?
check "clamdscan --stream finds clam.exe, exit 1 ($rc: $out)" \
  '[[ $rc == 1 && "$out" == "$work/files/clam.exe: Accord.Test.ClamExe FOUND" ]]'
out=$(cds --stream files/clean.txt); rc=$?
check "clamdscan --stream: a clean file is OK, exit 0 ($rc: $out)" '[[ $rc == 0 && "$out" == "$work/files/clean.txt: OK" ]]'
out=$(cds files/clam.exe); rc=$?
check "clamdscan (CONTSCAN of the path) finds clam.exe ($rc: $out)" \
  '[[ $rc == 1 && "$out" == "$work/files/clam.exe: Accord.Test.ClamExe FOUND" ]]'
out=$(cds files/clean.txt); rc=$?
check "clamdscan (CONTSCAN): clean ($rc: $out)" '[[ $rc == 0 && "$out" == "$work/files/clean.txt: OK" ]]'
out=$(cds -m files); rc=$?
check "clamdscan -m (MULTISCAN of a directory) finds both copies ($rc: $out)" \
  '[[ $rc == 1 ]] && grep -qx "$work/files/clam.exe: Accord.Test.ClamExe FOUND" <<< "$out" &&
   grep -qx "$work/files/dir/clam-copy.exe: Accord.Test.ClamExe FOUND" <<< "$out" && [[ $(wc -l <<< "$out") == 2 ]]'
out=$(cds --fdpass files/clam.exe); rc=$?
check "clamdscan --fdpass (FILDES, SCM_RIGHTS) finds clam.exe ($rc: $out)" \
  '[[ $rc == 1 && "$out" == "$work/files/clam.exe: Accord.Test.ClamExe FOUND" ]]'
out=$(cds --fdpass files/clean.txt); rc=$?
check "clamdscan --fdpass: clean ($rc: $out)" '[[ $rc == 0 && "$out" == "$work/files/clean.txt: OK" ]]'
out=$(cds --stream -m files); rc=$?
check "clamdscan --stream -m of a directory (IDSESSION, one INSTREAM per file) ($rc: $out)" \
  '[[ $rc == 1 ]] && grep -qx "$work/files/dir/clam-copy.exe: Accord.Test.ClamExe FOUND" <<< "$out" &&
   grep -qx "$work/files/clam.exe: Accord.Test.ClamExe FOUND" <<< "$out"'
out=$(cds --fdpass -m files); rc=$?
check "clamdscan --fdpass -m of a directory (IDSESSION, FILDES per file) ($rc: $out)" \
  '[[ $rc == 1 ]] && grep -qx "$work/files/dir/clam-copy.exe: Accord.Test.ClamExe FOUND" <<< "$out"'
out=$(cds - < files/clam.exe); rc=$?  # on a unix socket clamdscan passes its standard input with FILDES
check "clamdscan - (standard input) ($rc: $out)" '[[ $rc == 1 && "$out" == "fd["*"]: Accord.Test.ClamExe FOUND" ]]'
out=$(cds --stream - < files/clam.exe); rc=$?
check "clamdscan --stream - (standard input, INSTREAM) ($rc: $out)" \
  '[[ $rc == 1 && "$out" == "stream: Accord.Test.ClamExe FOUND" ]]'
out=$(clamdscan --config-file="$work/clamd-tcp.conf" --no-summary --stream files/clam.exe); rc=$?
check "clamdscan over TCP ($rc: $out)" '[[ $rc == 1 && "$out" == "$work/files/clam.exe: Accord.Test.ClamExe FOUND" ]]'
out=$(clamdscan --config-file="$work/clamd.conf" --version); rc=$?
check "clamdscan --version shows accord's VERSION ($rc: $out)" '[[ $rc == 0 && "$out" == "accord 0.1.0/1/"* ]]'

# ---- pyclamd
cat > client.py << 'EOF'
import socket, struct, sys, pyclamd
sock, port, work = sys.argv[1], int(sys.argv[2]), sys.argv[3]
clam = open(work + "/files/clam.exe", "rb").read()
results = []
def check(name, cond, got):
    results.append(cond)
    print(("ok: " if cond else "FAIL: ") + "pyclamd " + name + " (" + repr(got) + ")")
for cd in (pyclamd.ClamdUnixSocket(sock), pyclamd.ClamdNetworkSocket("127.0.0.1", port)):
    kind = type(cd).__name__
    check(kind + " ping", cd.ping() is True, True)
    v = cd.version()
    check(kind + " version", v.startswith("accord 0.1.0/1/"), v)
    r = cd.scan_stream(clam)
    check(kind + " scan_stream(clam.exe)", r == {"stream": ("FOUND", "Accord.Test.ClamExe")}, r)
    r = cd.scan_stream(b"nothing here" * 1000)
    check(kind + " scan_stream(clean)", r is None, r)
    r = cd.scan_stream(b"x" * 8192)  # a multiple of pyclamd's chunk: it sends an extra empty chunk
    check(kind + " scan_stream(8192 bytes)", r is None, r)
    r = cd.scan_file(work + "/files/clam.exe")
    check(kind + " scan_file", r == {work + "/files/clam.exe": ("FOUND", "Accord.Test.ClamExe")}, r)
    r = cd.scan_file(work + "/files/clean.txt")
    check(kind + " scan_file(clean)", r is None, r)
    r = cd.multiscan_file(work + "/files")
    check(kind + " multiscan_file", r == {work + "/files/clam.exe": ("FOUND", "Accord.Test.ClamExe"),
                                          work + "/files/dir/clam-copy.exe": ("FOUND", "Accord.Test.ClamExe")}, r)
    r = cd.contscan_file(work + "/files/dir")
    check(kind + " contscan_file", r == {work + "/files/dir/clam-copy.exe": ("FOUND", "Accord.Test.ClamExe")}, r)
    r = cd.allmatchscan(work + "/files/clam.exe")
    check(kind + " allmatchscan", r == {work + "/files/clam.exe": [("FOUND", "Accord.Test.ClamExe")]}, r)
    s = cd.stats()
    check(kind + " stats", s.startswith("POOLS: ") and "END" in s, s[:40])
    try:
        r = cd.scan_stream(b"y" * (2 << 20))
        check(kind + " scan_stream over the limit raises BufferTooLongError", False, r)
    except pyclamd.BufferTooLongError as e:
        check(kind + " scan_stream over the limit raises BufferTooLongError", True, str(e))
    except (pyclamd.ConnectionError, OSError) as e:  # the daemon closed while pyclamd was still sending
        check(kind + " scan_stream over the limit: connection closed", True, str(e))
# The exact reply to a stream over the limit, read before sending its bytes.
s = socket.socket(socket.AF_UNIX)
s.connect(sock)
s.sendall(b"zINSTREAM\0" + struct.pack("!L", 2 << 20))
r = s.recv(100)
check("raw: INSTREAM over the limit", r == b"INSTREAM size limit exceeded. ERROR\0", r)
s.close()
sys.exit(0 if all(results) else 1)
EOF
"$py" client.py "$sock" "$port" "$work" > pyclamd.out 2>&1
rc=$?
cat pyclamd.out
pass=$((pass + $(grep -c '^ok:' pyclamd.out))) fail=$((fail + $(grep -c '^FAIL:' pyclamd.out)))
[[ $rc == 0 ]] || bad "pyclamd client exited $rc: $(tail -n 3 pyclamd.out)"

# ---- Reloads: RELOAD, then a database replaced by `accord db build` (rename), seen by the watcher.
out=$(clamdscan --config-file="$work/clamd.conf" --reload); rc=$?
check "clamdscan --reload ($rc: $out)" '[[ $rc == 0 ]]'
for _ in $(seq 50); do grep -q "reloaded (RELOAD)" scand.log && break; sleep 0.1; done
check "RELOAD reloads (log: $(grep reload scand.log | tail -n 1))" 'grep -q "reloaded (RELOAD)" scand.log'
{ cat sigs.hsb; sig files/later.txt Accord.Test.Later; } > sigs2.hsb
"$accord" db build -o sigs.accdb --hashes sigs2.hsb > /dev/null
for _ in $(seq 100); do grep -q "reloaded (a database file changed)" scand.log && break; sleep 0.1; done
out=$(cds --stream files/later.txt); rc=$?
check "a database replaced by accord db build is picked up ($rc: $out)" \
  '[[ $rc == 1 && "$out" == "$work/files/later.txt: Accord.Test.Later FOUND" ]]'
out=$(cds --stream files/clam.exe); rc=$?
check "and the old signatures still find clam.exe ($rc)" '[[ $rc == 1 ]]'

kill -TERM $pid
wait $pid
rc=$?
trap - EXIT
check "SIGTERM stops the daemon cleanly (exit $rc) and removes its socket" '[[ $rc == 0 && ! -e "$sock" ]]'

# ---- Out of memory: a daemon under a 1.5 GB address-space cap, its limits above it, given a 2 GiB
# file by FILDES and by CONTSCAN, and a 1.5 GiB stream: each request is answered with an error and
# the daemon goes on (it aborted before). Not under AddressSanitizer, which reserves terabytes of
# address space.
# (the list read whole: `grep -q` in a pipe under pipefail can fail on ldd's SIGPIPE)
libs=$(ldd "$accord" 2> /dev/null)
if [[ $libs == *libasan* || $libs == *libtsan* ]]; then
  echo "skip: out of memory under a sanitizer"
else
  truncate -s 2G big.bin
  oom_sock=$work/oom.sock
  (ulimit -v 1500000 && exec "$accord" scand -d sigs.accdb -j 2 --socket "$oom_sock" --max-filesize 4000000000 \
     --max-scansize 4000000000 --max-stream-size 4000000000 --max-stream-memory 8000000000 2> oom.log) &
  oom_pid=$!
  trap 'kill $oom_pid 2> /dev/null; wait $oom_pid 2> /dev/null' EXIT
  for _ in $(seq 100); do [ -S "$oom_sock" ] && break; sleep 0.1; done
  cat > oom.py << 'EOF'
import os, socket, struct, sys, threading
sock, big, clam = sys.argv[1:4]
def reply(s):  # up to the NUL that ends a z-command's answer, or the end of the connection
    r = b""
    while not r.endswith(b"\0"):
        x = s.recv(4096)
        if not x:
            break
        r += x
    return r.decode(errors="replace").rstrip("\0")
def huge_stream():
    # 1.5 GiB of zeros in 64 MiB chunks, sent from a thread while this one waits for the answer
    # (the daemon stops reading once it has answered).
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock)
    chunk = bytes(64 << 20)
    def send():
        try:
            s.sendall(b"zINSTREAM\0")
            for _ in range(24):
                s.sendall(struct.pack("!L", len(chunk)) + chunk)
            s.sendall(struct.pack("!L", 0))
        except OSError:
            pass
    t = threading.Thread(target=send)
    t.start()
    r = reply(s)
    t.join()  # (the daemon closes the connection at most 2 s after its answer: sendall ends)
    s.close()
    return r
def ask(request, fd=None, stream=None):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock)
    s.sendall(request)
    if fd is not None:
        socket.send_fds(s, [b"\0"], [fd])
    if stream is not None:
        s.sendall(struct.pack("!L", len(stream)) + stream + struct.pack("!L", 0))
    r = reply(s)
    s.close()
    return r
fd = os.open(big, os.O_RDONLY)
print("FILDES " + ask(b"zFILDES\0", fd=fd))
os.close(fd)
print("CONTSCAN " + ask(b"zCONTSCAN " + big.encode() + b"\0"))
print("HUGE " + huge_stream())
print("INSTREAM " + ask(b"zINSTREAM\0", stream=open(clam, "rb").read()))
EOF
  "$py" oom.py "$oom_sock" "$work/big.bin" "$work/files/clam.exe" > oom.out 2>&1
  check "FILDES of a file too large for memory: Can't allocate memory ERROR ($(head -c 300 oom.out))" \
    'grep -q "^FILDES fd\[[0-9]*\]: Can.t allocate memory ERROR$" oom.out'
  check "CONTSCAN of it: the file is an error" \
    'grep -qxF "CONTSCAN $work/big.bin: out of memory, not scanned ERROR" oom.out'
  check "a stream that outgrows memory: Can't allocate memory ERROR" \
    'grep -qx "HUGE stream: Can.t allocate memory ERROR" oom.out'
  check "and the daemon goes on: INSTREAM finds clam.exe" 'grep -qx "INSTREAM stream: Accord.Test.ClamExe FOUND" oom.out'
  kill -TERM $oom_pid
  wait $oom_pid
  rc=$?
  trap - EXIT
  check "it then stops cleanly (exit $rc)" '[[ $rc == 0 ]]'
  rm -f big.bin
fi
echo "$pass passed, $fail failed"

((fail == 0))
