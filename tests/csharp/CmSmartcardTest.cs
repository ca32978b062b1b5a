// Mono test of bindings/csharp/CmSmartcard.cs against the Linux library and the CM emulator.
// Compiled together with the binding at C# 5 (mcs -langversion:5) by tests/csharp/run.sh.
//
// Usage: mono CmSmartcardTest.exe EMULATOR_URL HEADER_PATH
// Ends with "N passed, M failed"; exit status 1 when anything failed.

using System;
using System.Collections.Generic;
using System.IO;
using System.Net;
using System.Net.Sockets;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Security;
using System.Text;
using System.Text.RegularExpressions;
using System.Threading;
using CmSmartcard;

static class CmSmartcardTest
{
    const string Atr = "3B 8D 01 80 FB A0 00 00 03 97 42 54 46 59 03 01 C8";
    const string AtrNormalized = "3b8d0180fba000000397425446590301c8";

    static string url;
    static string header;
    static int passed, failed;

    delegate void Body();

    static void Test(string name, Body body)
    {
        try
        {
            body();
            passed++;
            Console.WriteLine("ok   " + name);
        }
        catch (Exception e)
        {
            failed++;
            Console.WriteLine("FAIL " + name + ": " + e);
        }
    }

    static void Eq<T>(T expected, T actual, string what)
    {
        if (!EqualityComparer<T>.Default.Equals(expected, actual))
            throw new Exception(what + ": expected <" + expected + ">, got <" + actual + ">");
    }

    static void True(bool cond, string what)
    {
        if (!cond) throw new Exception("not true: " + what);
    }

    static CmException Throws(CmStatus status, Body body)
    {
        try { body(); }
        catch (CmException e)
        {
            Eq(status, e.Status, "status of " + e.Function + " (" + e.Message + ")");
            True(e.Message.Length > 0, "the exception has a message");
            return e;
        }
        throw new Exception("expected CmException " + status + ", nothing was thrown");
    }

    // ---- emulator control (/_emulator/...) ----

    static string Http(string method, string path, string body)
    {
        var req = (HttpWebRequest)WebRequest.Create(url + path);
        req.Method = method;
        req.Proxy = null;
        if (body != null)
        {
            byte[] b = Encoding.UTF8.GetBytes(body);
            req.ContentType = "application/json";
            req.ContentLength = b.Length;
            using (var s = req.GetRequestStream()) s.Write(b, 0, b.Length);
        }
        using (var resp = (HttpWebResponse)req.GetResponse())
        using (var r = new StreamReader(resp.GetResponseStream(), Encoding.UTF8))
            return r.ReadToEnd();
    }

    static string NewRequest(string status)
    {
        string id = Guid.NewGuid().ToString();
        Http("POST", "/_emulator/requests", "{\"uuid\":\"" + id + "\",\"status\":\"" + status + "\"}");
        return id;
    }

    static void Fault(string spec) { Http("POST", "/_emulator/faults", "{\"spec\":\"" + spec + "\"}"); }
    static void ClearFaults() { Http("DELETE", "/_emulator/faults", null); }

    static int Count(string method, string path)
    {
        string json = Http("GET", "/_emulator/count?method=" + method + "&path=" + path, null);
        return int.Parse(Regex.Match(json, "\"count\"\\s*:\\s*(\\d+)").Groups[1].Value);
    }

    static CmConnection Conn()
    {
        var c = new CmConnection(url);
        c.AuthMethod = CmAuthMethod.None;
        c.TimeoutMs = 5000;
        return c;
    }

    static string Pascal(string snake)
    {
        var sb = new StringBuilder();
        foreach (string part in snake.ToLowerInvariant().Split('_'))
            if (part.Length > 0) sb.Append(char.ToUpperInvariant(part[0])).Append(part.Substring(1));
        return sb.ToString();
    }

    static int Main(string[] args)
    {
        if (args.Length < 2)
        {
            Console.Error.WriteLine("usage: CmSmartcardTest.exe EMULATOR_URL HEADER_PATH");
            return 2;
        }
        url = args[0].TrimEnd('/');
        header = File.ReadAllText(args[1]);

        Test("version, ABI and status strings", delegate
        {
            True(Regex.IsMatch(CmLibrary.Version, "^\\d+\\.\\d+\\.\\d+$"), "version " + CmLibrary.Version);
            Eq(NativeMethods.AbiVersion, CmLibrary.AbiVersion, "ABI");
            CmLibrary.EnsureCompatible();
            Eq("unknown status code", CmLibrary.StatusString(12345), "unknown code");
            True(CmLibrary.StatusString(CmStatus.Ok).Length > 0, "OK text");
        });

        Test("CmStatus matches every CM_STATUS_* of the header", delegate
        {
            var fromHeader = new Dictionary<string, int>();
            foreach (Match m in Regex.Matches(header, "\\bCM_STATUS_([A-Z0-9_]+) = (\\d+)"))
                fromHeader[Pascal(m.Groups[1].Value)] = int.Parse(m.Groups[2].Value);
            True(fromHeader.Count >= 40, "header parsed (" + fromHeader.Count + " codes)");
            foreach (var kv in fromHeader)
            {
                CmStatus s;
                True(Enum.TryParse(kv.Key, out s), "CmStatus." + kv.Key + " exists");
                Eq(kv.Value, (int)s, "CmStatus." + kv.Key);
                True(CmLibrary.StatusString(kv.Value) != "unknown status code", "library knows " + kv.Key);
            }
            Eq(fromHeader.Count, Enum.GetValues(typeof(CmStatus)).Length, "no extra CmStatus values");
            Eq((int)CmBindingState.BoundToOtherCard, int.Parse(Regex.Match(header, "CM_BINDING_BOUND_TO_OTHER_CARD (\\d+)").Groups[1].Value), "binding");
            Eq((int)CmAuthMethod.Bearer, int.Parse(Regex.Match(header, "CM_AUTH_BEARER (\\d+)").Groups[1].Value), "auth");
            Eq((int)NativeMethods.AbiVersion, int.Parse(Regex.Match(header, "CM_ABI_VERSION (\\d+)").Groups[1].Value), "ABI macro");
        });

        Test("NativeMethods declares exactly the functions of the header, all resolvable", delegate
        {
            var inHeader = new SortedSet<string>();
            foreach (Match m in Regex.Matches(header, "^[A-Za-z_].*?\\b(cm_[a-z0-9_]+)\\(", RegexOptions.Multiline))
                inHeader.Add(m.Groups[1].Value);
            var bound = new SortedSet<string>();
            foreach (MethodInfo mi in typeof(NativeMethods).GetMethods(BindingFlags.Public | BindingFlags.Static))
                if (mi.Name.StartsWith("cm_")) bound.Add(mi.Name);
            Eq(string.Join(" ", inHeader), string.Join(" ", bound), "exports");
            foreach (string name in bound) Marshal.Prelink(typeof(NativeMethods).GetMethod(name));
        });

        Test("struct layouts match the C structs", delegate
        {
            int p = IntPtr.Size;
            Eq(p == 8 ? 80 : 48, Marshal.SizeOf(typeof(NativeConnection)), "sizeof(cm_connection)");
            Eq(p == 8 ? 32 : 16, Marshal.SizeOf(typeof(NativeAssignment)), "sizeof(cm_assignment)");
            Eq(p == 8 ? 72 : 44, (int)Marshal.OffsetOf(typeof(NativeConnection), "spn"), "offsetof(spn)");
        });

        string req = NewRequest("Approved");
        string card = Guid.NewGuid().ToString();
        string scUuid = null;

        Test("AssignSmartcard binds the card (201, uri, uuid)", delegate
        {
            // braces + upper case: the library normalizes both GUIDs
            CmAssignResult r = CmApi.AssignSmartcard(Conn(), "{" + req.ToUpperInvariant() + "}", card, Atr);
            Eq(201, r.HttpStatus, "HTTP status");
            True(Regex.IsMatch(r.SmartcardUuid, "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"), "uuid " + r.SmartcardUuid);
            Eq("api/v1.0/smartcards/" + r.SmartcardUuid, r.SmartcardUri, "uri");
            Eq(r.SmartcardUuid, r.ToString(), "ToString");
            scUuid = r.SmartcardUuid;
            Eq(1, Count("POST", "/smartcards"), "POSTs sent");
        });

        Test("GetSmartcard and FindSmartcard read the bound card", delegate
        {
            CmSmartcardInfo sc = CmApi.GetSmartcard(Conn(), scUuid);
            True(sc != null, "found");
            Eq(scUuid, sc.Uuid, "Uuid");
            Eq("{" + card + "}", sc.SerialNumber, "SerialNumber");
            Eq(AtrNormalized, sc.Atr.ToLowerInvariant(), "Atr");
            Eq(2, sc.Status, "Status");
            True(sc.Json.Length > 128 && sc.Json.Contains(scUuid), "Json (size-query loop beyond 128 bytes)");
            CmSmartcardInfo found = CmApi.FindSmartcard(Conn(), card.ToUpperInvariant());
            True(found != null, "FindSmartcard found");
            Eq(scUuid, found.Uuid, "FindSmartcard Uuid");
            True(CmApi.FindSmartcard(Conn(), Guid.NewGuid().ToString()) == null, "unknown card id gives null");
            True(CmApi.GetSmartcard(Conn(), Guid.NewGuid().ToString()) == null, "unknown smartcard gives null");
        });

        Test("GetRequest reads the request", delegate
        {
            CmRequestInfo r = CmApi.GetRequest(Conn(), req);
            True(r != null, "found");
            Eq(3, r.Status, "Status (Approved)");
            Eq(scUuid, r.NewSmartcardUuid, "NewSmartcardUuid");
            True(r.Json.Contains(scUuid), "Json");
            True(CmApi.GetRequest(Conn(), Guid.NewGuid().ToString()) == null, "unknown request gives null");
        });

        Test("ReconcileAssignment: bound to this card, to another card, not bound", delegate
        {
            CmReconcileResult r = CmApi.ReconcileAssignment(Conn(), req, card);
            Eq(CmBindingState.BoundToThisCard, r.State, "this card");
            Eq(scUuid, r.SmartcardUuid, "uuid");
            r = CmApi.ReconcileAssignment(Conn(), req, Guid.NewGuid().ToString());
            Eq(CmBindingState.BoundToOtherCard, r.State, "other card");
            r = CmApi.ReconcileAssignment(Conn(), new CmAssignment(NewRequest("Approved"), card, null));
            Eq(CmBindingState.NotBound, r.State, "fresh request");
            Eq("", r.SmartcardUuid, "no uuid");
        });

        Test("403: assigning an already bound request throws HttpForbidden", delegate
        {
            CmException e = Throws(CmStatus.HttpForbidden, delegate { CmApi.AssignSmartcard(Conn(), req, Guid.NewGuid().ToString(), Atr); });
            Eq(403, e.HttpStatus, "HTTP status");
            True(e.ServerMessage.Length > 0, "server message");
            True(e.IsServerError && !e.IsTransportError, "category");
            Eq("cm_assign_smartcard", e.Function, "function");
            True(e.ToString().Contains("HTTP 403"), "ToString: " + e);
        });

        Test("403: a request that is not approved", delegate
        {
            Throws(CmStatus.HttpForbidden, delegate { CmApi.AssignSmartcard(Conn(), NewRequest("Pending"), Guid.NewGuid().ToString(), Atr); });
        });

        Test("an unknown request in ReconcileAssignment is HttpForbidden with HTTP 204", delegate
        {
            CmException e = Throws(CmStatus.HttpForbidden, delegate { CmApi.ReconcileAssignment(Conn(), Guid.NewGuid().ToString(), card); });
            Eq(204, e.HttpStatus, "HTTP status");
        });

        Test("argument errors are raised before anything is sent", delegate
        {
            int before = Count("POST", "/smartcards");
            CmException e = Throws(CmStatus.InvalidGuid, delegate { CmApi.AssignSmartcard(Conn(), "not-a-guid", card, Atr); });
            Eq(0, e.HttpStatus, "no HTTP status");
            Throws(CmStatus.InvalidGuid, delegate { CmApi.AssignSmartcard(Conn(), req, "1234", Atr); });
            Throws(CmStatus.InvalidAtr, delegate { CmApi.AssignSmartcard(Conn(), NewRequest("Approved"), Guid.NewGuid().ToString(), "3b8d0180fba000000397425446590301c9"); });
            Throws(CmStatus.NullArgument, delegate { CmApi.AssignSmartcard(Conn(), null, card, Atr); });
            var bad = Conn(); bad.ServerUrl = "ftp://cm.contoso.com/";
            Throws(CmStatus.InvalidUrl, delegate { CmApi.GetRequest(bad, req); });
            Eq(before, Count("POST", "/smartcards"), "POSTs sent");
            try { CmApi.AssignSmartcard(null, req, card, Atr); throw new Exception("no ArgumentNullException"); }
            catch (ArgumentNullException) { }
        });

        Test("UTF-8 goes in and comes back out intact", delegate
        {
            CmException e = Throws(CmStatus.InvalidAtr, delegate { CmApi.AssignSmartcard(Conn(), req, card, "3B\u00e98D"); });
            True(e.Message.Contains("\u00e9"), "message keeps the non-ASCII character: " + e.Message);
        });

        Test("connection refused gives ConnectFailed", delegate
        {
            var l = new TcpListener(IPAddress.Loopback, 0);
            l.Start();
            int port = ((IPEndPoint)l.LocalEndpoint).Port;
            l.Stop();
            var c = Conn(); c.ServerUrl = "http://127.0.0.1:" + port;
            CmException e = Throws(CmStatus.ConnectFailed, delegate { CmApi.GetRequest(c, req); });
            True(e.IsTransportError, "category");
        });

        Test("500 carries the correlation id", delegate
        {
            string cid = Guid.NewGuid().ToString();
            Fault("server-error=" + cid + ":POST:/smartcards:1");
            try
            {
                CmException e = Throws(CmStatus.HttpServerError, delegate { CmApi.AssignSmartcard(Conn(), NewRequest("Approved"), Guid.NewGuid().ToString(), Atr); });
                Eq(500, e.HttpStatus, "HTTP status");
                Eq(cid, e.CorrelationId.ToLowerInvariant(), "correlation id");
                True(e.ServerMessage.Contains(cid), "server message " + e.ServerMessage);
            }
            finally { ClearFaults(); }
        });

        Test("API disabled gives HttpNotFound", delegate
        {
            Http("POST", "/_emulator/api-disabled", "true");
            try
            {
                CmException e = Throws(CmStatus.HttpNotFound, delegate { CmApi.GetRequest(Conn(), req); });
                Eq(404, e.HttpStatus, "HTTP status");
            }
            finally { Http("POST", "/_emulator/api-disabled", "false"); }
        });

        Test("other server answers: 400, redirect, garbage, 401 without auth", delegate
        {
            try
            {
                Fault("400:POST:/smartcards:1");
                Throws(CmStatus.HttpBadRequest, delegate { CmApi.AssignSmartcard(Conn(), NewRequest("Approved"), Guid.NewGuid().ToString(), Atr); });
                Fault("redirect:GET:/requests:1");
                Throws(CmStatus.RedirectRefused, delegate { CmApi.GetRequest(Conn(), req); });
                Fault("garbage:GET:/requests:1");
                Throws(CmStatus.MalformedResponse, delegate { CmApi.GetRequest(Conn(), req); });
                Fault("401:GET:/requests:1");
                CmException e = Throws(CmStatus.AuthRequired, delegate { CmApi.GetRequest(Conn(), req); });
                Eq(401, e.HttpStatus, "HTTP status");
                True(e.IsAuthError, "category");
            }
            finally { ClearFaults(); }
        });

        Test("OutcomeUnknown after a lost answer, then ReconcileAssignment finds the binding", delegate
        {
            string r2 = NewRequest("Approved");
            string c2 = Guid.NewGuid().ToString();
            int before = Count("POST", "/smartcards");
            Fault("close-after-read=apply:POST:/smartcards:1");
            try
            {
                CmException e = Throws(CmStatus.OutcomeUnknown, delegate { CmApi.AssignSmartcard(Conn(), r2, c2, Atr); });
                True(e.OutcomeUnknown, "OutcomeUnknown property");
            }
            finally { ClearFaults(); }
            Eq(before + 1, Count("POST", "/smartcards"), "the POST was sent exactly once");
            CmReconcileResult rr = CmApi.ReconcileAssignment(Conn(), r2, c2);
            Eq(CmBindingState.BoundToThisCard, rr.State, "state");
            Eq(36, rr.SmartcardUuid.Length, "uuid");
        });

        Test("a hanging server gives Timeout within TimeoutMs", delegate
        {
            Fault("hang:GET:/requests:1");
            try
            {
                var c = Conn(); c.TimeoutMs = 700;
                var sw = System.Diagnostics.Stopwatch.StartNew();
                Throws(CmStatus.Timeout, delegate { CmApi.GetRequest(c, req); });
                True(sw.ElapsedMilliseconds < 5000, "took " + sw.ElapsedMilliseconds + " ms");
            }
            finally { ClearFaults(); }
        });

        Test("credentials: Basic over http needs the opt-in; SecureString password is sent", delegate
        {
            var c = Conn();
            c.AuthMethod = CmAuthMethod.Basic;
            c.UserName = "CONTOSO\\admin";
            var sec = new SecureString();
            foreach (char ch in "p\u00e4ss w0rd") sec.AppendChar(ch);
            c.SecurePassword = sec;
            Throws(CmStatus.AuthInsecureTransport, delegate { CmApi.GetRequest(c, req); });
            c.AuthFlags = CmAuthFlags.AllowInsecureHttp;
            Http("DELETE", "/_emulator/log", null);
            // The library may send Basic pre-emptively or only after a 401; make the server ask.
            Fault("401:GET:/requests:1");
            try { CmApi.GetRequest(c, req); }
            catch (CmException e) { if (e.Status != CmStatus.AuthRejected && e.Status != CmStatus.AuthRequired) throw; }
            finally { ClearFaults(); }
            string log = Http("GET", "/_emulator/log", null);
            True(log.Contains("Basic"), "an Authorization: Basic header was sent: " + log);
            var nc = new NetworkCredential("admin", "secret", "CONTOSO");
            c.SetCredential(nc);
            Eq("CONTOSO\\admin", c.UserName, "SetCredential user name");
            True(c.SecurePassword != null && c.SecurePassword.Length == 6, "SetCredential password");
        });

        Test("the last error is per thread: parallel failures keep their own details", delegate
        {
            var errors = new CmException[6];
            var threads = new Thread[6];
            for (int i = 0; i < threads.Length; i++)
            {
                int k = i;
                threads[i] = new Thread(delegate()
                {
                    for (int n = 0; n < 20; n++)
                    {
                        try
                        {
                            if (k % 2 == 0) CmApi.AssignSmartcard(Conn(), "bad-" + k, card, Atr);
                            else CmApi.AssignSmartcard(Conn(), req, Guid.NewGuid().ToString(), Atr);
                        }
                        catch (CmException e) { errors[k] = e; if (k % 2 == 0 ? e.Status != CmStatus.InvalidGuid : e.Status != CmStatus.HttpForbidden) return; }
                    }
                });
                threads[i].Start();
            }
            foreach (var t in threads) t.Join();
            for (int i = 0; i < errors.Length; i++)
            {
                True(errors[i] != null, "thread " + i + " saw an error");
                if (i % 2 == 0) { Eq(CmStatus.InvalidGuid, errors[i].Status, "thread " + i); Eq(0, errors[i].HttpStatus, "thread " + i + " HTTP"); }
                else { Eq(CmStatus.HttpForbidden, errors[i].Status, "thread " + i); Eq(403, errors[i].HttpStatus, "thread " + i + " HTTP"); }
            }
        });

        Test("raw API: SafeHandles free once, size query, NULL handles", delegate
        {
            var s = new NativeConnection();
            s.struct_size = (uint)Marshal.SizeOf(typeof(NativeConnection));
            IntPtr u = Marshal.AllocHGlobal(256), id = Marshal.AllocHGlobal(64);
            try
            {
                byte[] ub = Encoding.UTF8.GetBytes(url + "\0"), ib = Encoding.UTF8.GetBytes(scUuid + "\0");
                Marshal.Copy(ub, 0, u, ub.Length); Marshal.Copy(ib, 0, id, ib.Length);
                s.server_url = u;
                s.auth_method = (uint)CmAuthMethod.None;
                CmSmartcardHandle h;
                Eq(0, NativeMethods.cm_get_smartcard(ref s, id, out h), "cm_get_smartcard");
                True(!h.IsInvalid, "handle");
                UIntPtr len;
                Eq((int)CmStatus.BufferTooSmall, NativeMethods.cm_smartcard_uuid(h, null, UIntPtr.Zero, out len), "size query");
                Eq(36UL, len.ToUInt64(), "length without NUL");
                byte[] small = new byte[36];
                Eq((int)CmStatus.BufferTooSmall, NativeMethods.cm_smartcard_uuid(h, small, new UIntPtr(36), out len), "one byte short");
                Eq((int)CmStatus.BufferTooSmall, NativeMethods.cm_last_error_status(), "last error status");
                h.Dispose();
                h.Dispose();
                True(h.IsClosed, "closed");
                s.struct_size = 2;
                CmRequestHandle rh;
                Eq((int)CmStatus.InvalidStructSize, NativeMethods.cm_get_request(ref s, id, out rh), "struct_size checked");
                True(rh.IsInvalid, "no handle on failure");
                rh.Dispose();
            }
            finally { Marshal.FreeHGlobal(u); Marshal.FreeHGlobal(id); }
            Eq(-1, NativeMethods.cm_smartcard_status(new CmSmartcardHandle()), "NULL smartcard status");
            Eq(-1, NativeMethods.cm_request_status(new CmRequestHandle()), "NULL request status");
            Eq(0, NativeMethods.cm_assign_result_http_status(new CmAssignResultHandle()), "NULL result status");
        });

        Test("ParseAtr", delegate
        {
            CmAtrInfo a = CmApi.ParseAtr(Atr);
            Eq(17, a.Length, "length"); Eq(0x3b, a.Ts, "TS"); True(a.WellFormed, "well formed");
            Eq(13, a.HistoricalBytes.Length, "historical bytes");
            Throws(CmStatus.InvalidAtr, delegate { CmApi.ParseAtr("zz"); });
        });

        // Card functions: against the virtual card when the PC/SC rig runs (tests/rigs/pcsc), otherwise they
        // must fail with a PC/SC status (100-199) mapped to CmException.IsCardError.
        Test("card: ListReaders, ReadCardAtr, ReadCardId, WaitForCard, CancelWaits, AssignSmartcardFromReader", delegate
        {
            CmReader[] readers = null;
            try { readers = CmApi.ListReaders(); }
            catch (CmException e) { True(e.IsCardError, "PC/SC status " + e.Status); }
            string withCard = null;
            if (readers != null)
                foreach (CmReader r in readers) { Console.WriteLine("     reader: " + r.Name + (r.CardPresent ? " [" + r.Atr + "]" : "")); if (r.CardPresent && withCard == null) withCard = r.Name; }
            // Under tests/run_all.sh (CM_REQUIRE_RIGS=1) the rig is up: the real-card branch is mandatory.
            if (withCard == null && Environment.GetEnvironmentVariable("CM_REQUIRE_RIGS") == "1")
                throw new Exception("CM_REQUIRE_RIGS=1 but no reader holds a card: the PC/SC rig is not reachable");
            if (withCard != null)
            {
                string atr = CmApi.ReadCardAtr(withCard);
                True(atr.Length >= 4, "ATR " + atr);
                string id = CmApi.ReadCardId(withCard);
                Eq(36, id.Length, "card id " + id);
                Eq(withCard, CmApi.WaitForCard(withCard, 0), "WaitForCard");
                CmAssignResult r = CmApi.AssignSmartcardFromReader(Conn(), NewRequest("Approved"), withCard);
                Eq(201, r.HttpStatus, "assign from reader");
                Eq(id, r.CardId, "card id of the result");
            }
            else
            {
                Body[] calls = {
                    delegate { CmApi.ReadCardAtr(null); },
                    delegate { CmApi.ReadCardId(null); },
                    delegate { CmApi.WaitForCard(null, 0); },
                    delegate { CmApi.AssignSmartcardFromReader(Conn(), NewRequest("Approved"), null); } };
                foreach (Body call in calls)
                {
                    try { call(); throw new Exception("no card, yet no exception"); }
                    catch (CmException e) { True(e.IsCardError, "PC/SC status expected, got " + e.Status + ": " + e.Message); }
                }
            }
            CmApi.CancelWaits();
        });

        Console.WriteLine(passed + " passed, " + failed + " failed");
        return failed == 0 ? 0 : 1;
    }
}
