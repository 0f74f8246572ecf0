"""One scored round with impacket, the way a scoring engine built on it runs.

Usage: impacket_client.py HOST PORT SHARE FILE [USER]
The password is read from the environment (CONFORMANCE_PASSWORD), never from
the command line; without USER the login is anonymous (empty user and
password). Prints one JSON object: how far the round got (connect, login,
list, share, read), the negotiated dialect, the SHA-256 of the file read and
the first error with the step it happened at.

Each step is impacket's own public API, with its defaults:
SMBConnection() sends the multi-protocol SMB1 NEGOTIATE (NT LM 0.12,
SMB 2.002, SMB 2.???) and follows with an SMB2 NEGOTIATE
(impacket/smbconnection.py negotiateSession); login() is NTLMv2 in SPNEGO;
listShares() is srvsvc NetrShareEnum over IPC$; listPath() opens the share
and lists its root; getFile() reads the file.
"""
import hashlib
import json
import os
import sys

from impacket.smbconnection import SMBConnection


def main():
    host, port, share, path = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    user = sys.argv[5] if len(sys.argv) > 5 else ""
    password = os.environ.get("CONFORMANCE_PASSWORD", "") if user else ""
    out = {"connect": False, "login": False, "list": False, "share": False, "read": False}
    step = "connect"
    try:
        conn = SMBConnection(host, host, sess_port=port, timeout=10)
        out["connect"] = True
        out["dialect"] = "0x%04x" % conn.getDialect() if isinstance(conn.getDialect(), int) else str(conn.getDialect())
        step = "login"
        conn.login(user, password)
        out["login"] = True
        step = "list"
        names = [s["shi1_netname"][:-1] for s in conn.listShares()]
        out["list"] = True
        out["shares"] = names
        step = "share"
        conn.listPath(share, "*")
        out["share"] = True
        step = "read"
        data = bytearray()
        conn.getFile(share, path, data.extend)
        out["read"] = True
        out["sha256"] = hashlib.sha256(bytes(data)).hexdigest()
        conn.logoff()
    except Exception as e:  # every failure is an outcome to report, not a crash
        out["error"] = "%s: %s" % (step, str(e).replace("\n", " ")[:300])
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
