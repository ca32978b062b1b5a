#!/usr/bin/env python3
"""Virtual smart card for the cm-smartcard PC/SC test rig (stdlib only).

Speaks the vsmartcard vpcd protocol: the card connects to 127.0.0.1:PORT (the vpcd driver listens,
slot n on PORT+n); both directions use frames of a big-endian uint16 length followed by that many bytes.
vpcd -> card, 1 byte: 00 power off, 01 power on, 02 reset (no reply), 04 get ATR (reply = ATR).
vpcd -> card, more bytes: a command APDU; the reply is one response APDU (data + SW1 SW2).
Insert = connect, remove = close the socket. Power off is NOT removal.

Signals: SIGUSR1 = remove the card, SIGUSR2 = (re-)insert it, SIGTERM/SIGINT = remove and exit.

Profiles:
  --profile gids --card-id HEX32   SELECT GIDS AID -> FCI + 9000; GET DATA 00 CB A0 12 04 5C 02 DF 20 ->
                                   DF 20 10 <card id> 90 00 (the DO TLV, as OpenSC gids_get_DO expects)
  --profile piv [--fascn HEX50] [--guid HEX32] [--sig-len N]
                                   SELECT PIV -> APT + 9000; GET DATA CHUID (5C 03 5F C1 02) ->
                                   53 LL <30 FASC-N> <34 GUID> <35 expiry> <3E sig> <FE 00> 90 00
                                   (--guid takes any length: a GUID that is not 16 bytes is malformed)
  --profile piv-bad-guid           piv whose CHUID GUID (tag 34) is 8 bytes (default --guid
                                   0102030405060708) instead of 16: OpenSC ignores it, uses the FASC-N
  --profile piv-gids               both applications on one card (answers both SELECTs, with the GIDS
                                   --card-id and the PIV --fascn/--guid): Windows reads it as PIV
Long replies are chained with 61xx / GET RESPONSE (00 C0 00 00 Le) when longer than --chunk bytes
(default 256). --le-exact answers 6C xx when the Le of a GET DATA does not equal the reply length.

Table: --apdu PREFIX=RESPONSE (hex, repeatable) and --apdu-file FILE (lines "PREFIX RESPONSE", # comments);
the longest matching prefix wins and overrides the profile. Anything else gets --default-sw
(default 9000 without a profile, 6a82 with one).

Faults: --remove-on-apdu PREFIX closes the socket instead of answering that APDU (card pulled mid-read)
and stays removed until SIGUSR2; --mute-on-apdu PREFIX stops answering (keeps the socket open, which
blocks that reader's pcscd thread) for --mute-seconds, then removes the card.

Log (--log FILE): one line per event: "connected", "power-on", "power-off", "reset", "atr",
"apdu> HEX", "apdu< HEX", "removed", "exit". --ready-file FILE is written after the first power-on.
"""

import argparse
import os
import select
import signal
import socket
import struct
import sys
import time

GIDS_RID = bytes.fromhex("A000000397425446 59".replace(" ", ""))
PIV_RID = bytes.fromhex("A000000308")
GIDS_AID_FULL = bytes.fromhex("A0000003974254465903 01".replace(" ", ""))
HAS_GIDS = ("gids", "piv-gids")
HAS_PIV = ("piv", "piv-bad-guid", "piv-gids")


class Card:
    def __init__(self, args):
        self.args = args
        self.atr = bytes.fromhex(args.atr)
        self.table = []
        for spec in args.apdu or []:
            prefix, _, resp = spec.partition("=")
            self.table.append((bytes.fromhex(prefix), bytes.fromhex(resp)))
        if args.apdu_file:
            with open(args.apdu_file) as f:
                for line in f:
                    line = line.split("#", 1)[0].strip()
                    if not line:
                        continue
                    prefix, resp = line.split(None, 1)
                    self.table.append((bytes.fromhex(prefix), bytes.fromhex(resp.replace(" ", ""))))
        self.table.sort(key=lambda e: -len(e[0]))
        if args.default_sw:
            self.default_sw = bytes.fromhex(args.default_sw)
        else:
            self.default_sw = bytes.fromhex("6a82" if args.profile else "9000")
        self.remove_on = bytes.fromhex(args.remove_on_apdu) if args.remove_on_apdu else None
        self.mute_on = bytes.fromhex(args.mute_on_apdu) if args.mute_on_apdu else None
        self.pending = b""  # data still to be fetched with GET RESPONSE
        self.selected = None
        self.log_f = open(args.log, "a", buffering=1) if args.log else None
        self.ready_written = False

    def log(self, msg):
        if self.log_f:
            self.log_f.write("%.3f %s\n" % (time.time(), msg))

    # -- profiles -----------------------------------------------------------------------------
    def chuid(self):
        a = self.args
        fascn = bytes.fromhex(a.fascn) if a.fascn else bytes(25)
        if a.guid:
            guid = bytes.fromhex(a.guid)
        elif a.profile == "piv-bad-guid":
            guid = bytes.fromhex("0102030405060708")
        else:
            guid = bytes(16)
        body = b"\x30" + bytes([len(fascn)]) + fascn
        body += b"\x34" + bytes([len(guid)]) + guid
        body += b"\x35\x08" + b"20300101"
        sig = bytes((i * 7 + 3) & 0xFF for i in range(a.sig_len))
        body += b"\x3e" + ber_len(len(sig)) + sig + b"\xfe\x00"
        return b"\x53" + ber_len(len(body)) + body

    def profile_answer(self, apdu):
        """Response data (without SW) or None if the profile does not know the APDU; raises SwError."""
        a = self.args
        cla, ins, p1, p2 = apdu[:4]
        data = apdu[5:5 + apdu[4]] if len(apdu) > 5 else b""
        if ins == 0xA4 and p1 == 0x04:
            if a.profile in HAS_GIDS and data.startswith(GIDS_RID):
                self.selected = "gids"
                return b"\x61\x0d\x4f\x0b" + GIDS_AID_FULL
            if a.profile in HAS_PIV and data.startswith(PIV_RID):
                self.selected = "piv"
                return bytes.fromhex("6111" "4f06000010000100" "7907" "4f05a000000308")
            self.selected = None
            raise SwError(b"\x6a\x82")
        if ins == 0xCB and self.selected == "gids":
            if (p1, p2) == (0xA0, 0x12) and data == bytes.fromhex("5c02df20"):
                return b"\xdf\x20\x10" + bytes.fromhex(a.card_id)
            raise SwError(b"\x6a\x82")
        if ins == 0xCB and self.selected == "piv":
            if (p1, p2) == (0x3F, 0xFF) and data == bytes.fromhex("5c035fc102"):
                return self.chuid()
            raise SwError(b"\x6a\x82")
        return None

    def answer(self, apdu):
        if len(apdu) < 4:
            return b"\x67\x00"
        for prefix, resp in self.table:
            if apdu.startswith(prefix):
                return resp
        if apdu[1] == 0xC0:  # GET RESPONSE
            if not self.pending:
                return b"\x6a\x86"
            le = apdu[4] if len(apdu) > 4 else 0
            return self.chunked(self.pending, le or 256)
        if not self.args.profile:
            return self.default_sw
        try:
            data = self.profile_answer(apdu)
        except SwError as e:
            return e.sw
        if data is None:
            return self.default_sw
        le = None
        lc = apdu[4] if len(apdu) > 4 else 0
        if len(apdu) == 5 + lc + 1:
            le = apdu[-1] or 256
        if self.args.le_exact and apdu[1] == 0xCB and le is not None and le != len(data) and len(data) < 256:
            return b"\x6c" + bytes([len(data)])
        return self.chunked(data, min(self.args.chunk, 256))

    def chunked(self, data, maxlen):
        maxlen = min(maxlen, self.args.chunk, 256)
        if len(data) <= maxlen:
            self.pending = b""
            return data + b"\x90\x00"
        self.pending = data[maxlen:]
        rest = len(self.pending)
        return data[:maxlen] + b"\x61" + bytes([rest if rest < 256 else 0])


class SwError(Exception):
    def __init__(self, sw):
        self.sw = sw


def ber_len(n):
    if n < 0x80:
        return bytes([n])
    if n < 0x100:
        return bytes([0x81, n])
    return bytes([0x82, n >> 8, n & 0xFF])


FLAGS = {"remove": False, "insert": False, "exit": False}


def on_signal(signum, _frame):
    if signum == signal.SIGUSR1:
        FLAGS["remove"] = True
    elif signum == signal.SIGUSR2:
        FLAGS["insert"] = True
    else:
        FLAGS["exit"] = True


def quickack(sock):
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
    except (OSError, AttributeError):
        pass


def recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        quickack(sock)
        if not chunk:
            return None
        buf += chunk
    return buf


def send_frame(sock, payload):
    sock.sendall(struct.pack(">H", len(payload)) + payload)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--port", type=int, default=61063)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--atr", default="3b8d0180fba000000397425446590301c8")
    p.add_argument("--profile", choices=["gids", "piv", "piv-bad-guid", "piv-gids"])
    p.add_argument("--card-id", default="00112233445566778899aabbccddeeff")
    p.add_argument("--fascn")
    p.add_argument("--guid")
    p.add_argument("--sig-len", type=int, default=0)
    p.add_argument("--chunk", type=int, default=256)
    p.add_argument("--le-exact", action="store_true")
    p.add_argument("--apdu", action="append")
    p.add_argument("--apdu-file")
    p.add_argument("--default-sw")
    p.add_argument("--remove-on-apdu")
    p.add_argument("--mute-on-apdu")
    p.add_argument("--mute-seconds", type=float, default=5.0)
    p.add_argument("--log")
    p.add_argument("--ready-file")
    p.add_argument("--pid-file")
    p.add_argument("--start-removed", action="store_true", help="do not insert until SIGUSR2")
    args = p.parse_args()

    card = Card(args)
    for s in (signal.SIGUSR1, signal.SIGUSR2, signal.SIGTERM, signal.SIGINT):
        signal.signal(s, on_signal)
    if args.pid_file:
        with open(args.pid_file, "w") as f:
            f.write("%d\n" % os.getpid())

    inserted = not args.start_removed
    sock = None
    card.log("start pid=%d port=%d atr=%s" % (os.getpid(), args.port, args.atr))
    while not FLAGS["exit"]:
        if FLAGS["remove"]:
            FLAGS["remove"] = False
            inserted = False
        if FLAGS["insert"]:
            FLAGS["insert"] = False
            inserted = True
        if not inserted and sock is not None:
            sock.close()
            sock = None
            card.log("removed")
        if inserted and sock is None:
            try:
                sock = socket.create_connection((args.host, args.port), timeout=1.0)
                sock.settimeout(None)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                card.log("connected")
            except OSError:
                sock = None
                time.sleep(0.1)
                continue
        if sock is None:
            time.sleep(0.05)
            continue
        try:
            r, _, _ = select.select([sock], [], [], 0.2)
        except InterruptedError:
            continue
        if not r:
            continue
        try:
            hdr = recv_exact(sock, 2)
            msg = recv_exact(sock, struct.unpack(">H", hdr)[0]) if hdr else None
        except OSError:
            msg = None
        if msg is None:
            # vpcd went away (pcscd stopped): reconnect while inserted.
            card.log("disconnected-by-reader")
            sock.close()
            sock = None
            time.sleep(0.1)
            continue
        try:
            if len(msg) == 1:
                code = msg[0]
                if code == 0x00:
                    card.log("power-off")
                elif code == 0x01:
                    card.log("power-on")
                    card.selected = None
                    if args.ready_file and not card.ready_written:
                        with open(args.ready_file, "w") as f:
                            f.write("ready\n")
                        card.ready_written = True
                elif code == 0x02:
                    card.log("reset")
                    card.selected = None
                elif code == 0x04:
                    send_frame(sock, card.atr)
                else:
                    card.log("unknown-control %02x" % code)
                continue
            card.log("apdu> " + msg.hex())
            if card.remove_on is not None and msg.startswith(card.remove_on):
                card.log("remove-on-apdu")
                inserted = False
                continue
            if card.mute_on is not None and msg.startswith(card.mute_on):
                card.log("mute")
                deadline = time.time() + args.mute_seconds
                while time.time() < deadline and not FLAGS["exit"] and not FLAGS["remove"]:
                    time.sleep(0.05)
                inserted = False
                continue
            resp = card.answer(msg)
            card.log("apdu< " + resp.hex())
            send_frame(sock, resp)
        except OSError:
            card.log("send-failed")
            sock.close()
            sock = None
    if sock is not None:
        sock.close()
        card.log("removed")
    card.log("exit")
    return 0


if __name__ == "__main__":
    sys.exit(main())
