// Mono test of bindings/csharp/CmSmartcard.cs against the Linux library and the CM emulator.
// Compiled together with the binding at C# 5 (mcs -langversion:5) by tests/csharp/run.sh.
//
// Usage: mono CmSmartcardTest.exe EMULATOR_URL HEADER_PATH LIBRARY_PATH
// LIBRARY_PATH is loaded with CmLibrary.Load (no LD_LIBRARY_PATH). The card tests use the PC/SC rig named by
// PCSC_RIG_ENV's variables (PCSC_DEFAULT_ATR, PCSC_DEFAULT_CARD_ID, PCSC_READER0), when it runs.
// Ends with "N passed, M failed"; exit status 1 when anything failed.

using System;
using System.Collections.Generic;
using System.IO;
using System.Net;
using System.Net.Sockets;
using System.Reflection;
using System.Runtime.Serialization.Formatters.Binary;
using System.Runtime.InteropServices;
using System.Security;
using System.Text;
using System.Text.RegularExpressions;
using System.Threading;
using CmSmartcard;

static partial class CmSmartcardTest
{
    const string Atr = "3B 8D 01 80 FB A0 00 00 03 97 42 54 46 59 03 01 C8";
    const string AtrNormalized = "3b8d0180fba000000397425446590301c8";

    static string url;
    static string header;
    static string libraryPath;
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

    static string Http(string method, string path, string body) { return HttpTo(url, method, path, body); }

    static string HttpTo(string baseUrl, string method, string path, string body)
    {
        var req = (HttpWebRequest)WebRequest.Create(baseUrl.TrimEnd('/') + path);
        req.Method = method;
        req.Proxy = null;
        req.KeepAlive = false; // Mono's pooled control connections occasionally fail with "Operation aborted"
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

    delegate CmAssignResult AssignCall();

    // The rig has one card and CM binds a card once: the first from-reader assignment gets 201, later ones a 403
    // in which the server names the card it was sent. Either proves the card in the first reader was read.
    static void AssignedFromReader(AssignCall call, string cardId)
    {
        try
        {
            CmAssignResult a = call();
            Eq(201, a.HttpStatus, "HTTP status");
            Eq(cardId, a.CardId, "card id");
        }
        catch (CmException e)
        {
            if (e.Status != CmStatus.HttpForbidden || !e.ServerMessage.Contains(cardId)) throw;
        }
    }

    static List<string> ConnectionIds()
    {
        var ids = new List<string>();
        foreach (Match m in Regex.Matches(Http("GET", "/_emulator/log", null), "\"connection_id\"\\s*:\\s*(\\d+)"))
            ids.Add(m.Groups[1].Value);
        return ids;
    }

    static CmException RoundTrip(CmException e)
    {
        var f = new BinaryFormatter();
        using (var ms = new MemoryStream())
        {
            f.Serialize(ms, e);
            ms.Position = 0;
            return (CmException)f.Deserialize(ms);
        }
    }

    static void ThrowCmExceptionHere()
    {
        throw new CmException(CmStatus.PcscNoCard, "CmApi.ReadCardAtr: no card", 502, 0x8010000C, "server says", "corr-1", "CmApi.ReadCardAtr");
    }

    // A raw native call that fails with InvalidGuid and a message quoting marker.
    static void SetLastErrorWithMarker(string marker)
    {
        var s = new NativeConnection();
        s.struct_size = (uint)Marshal.SizeOf(typeof(NativeConnection));
        s.auth_method = (uint)CmAuthMethod.None;
        IntPtr u = Marshal.StringToHGlobalAnsi(url), id = Marshal.StringToHGlobalAnsi(marker);
        try
        {
            s.server_url = u;
            CmSmartcardHandle h;
            Eq((int)CmStatus.InvalidGuid, NativeMethods.cm_get_smartcard(ref s, id, out h), "marker call");
            h.Dispose();
            string last;
            CmLibrary.TryReadString(NativeMethods.cm_last_error_message, out last);
            True(last.Contains(marker), "marker in the last error: " + last);
        }
        finally { Marshal.FreeHGlobal(u); Marshal.FreeHGlobal(id); }
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
        if (args.Length < 3)
        {
            Console.Error.WriteLine("usage: CmSmartcardTest.exe EMULATOR_URL HEADER_PATH LIBRARY_PATH");
            return 2;
        }
        url = args[0].TrimEnd('/');
        header = File.ReadAllText(args[1]);
        libraryPath = Path.GetFullPath(args[2]);

        // First of all: nothing may touch the library before Load (Mono binds DllImports on first use).
        Test("CmLibrary.Load loads the given path, without LD_LIBRARY_PATH", delegate
        {
            string ld = Environment.GetEnvironmentVariable("LD_LIBRARY_PATH") ?? "";
            True(!ld.Contains(Path.GetDirectoryName(libraryPath)), "the test runs without the library's folder in LD_LIBRARY_PATH");
            CmLibrary.Load(libraryPath);
            CmLibrary.EnsureCompatible();
            Eq(libraryPath, CmLibrary.LoadedPath, "LoadedPath");
            if (File.Exists("/proc/self/maps"))
                True(File.ReadAllText("/proc/self/maps").Contains(libraryPath), "the process mapped " + libraryPath);
            CmLibrary.Load(libraryPath); // a second call is ignored
            try { CmLibrary.Load(null); throw new Exception("no ArgumentNullException"); }
            catch (ArgumentNullException e) { Eq("fullPath", e.ParamName, "ParamName"); }
        });

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
            foreach (Match m in Regex.Matches(header, "#define CM_PROXY_([A-Z]+) (\\d+)"))
                Eq(int.Parse(m.Groups[2].Value), (int)(uint)Enum.Parse(typeof(CmProxyMode), Pascal(m.Groups[1].Value)), "CmProxyMode." + m.Groups[1].Value);
            Eq(3, Regex.Matches(header, "#define CM_PROXY_").Count, "CM_PROXY_* count");
            int flags = 0;
            foreach (Match m in Regex.Matches(header, "#define CM_AUTH_FLAG_([A-Z_]+) (\\d+)"))
            {
                Eq(int.Parse(m.Groups[2].Value), (int)(uint)Enum.Parse(typeof(CmAuthFlags), Pascal(m.Groups[1].Value)), "CmAuthFlags." + m.Groups[1].Value);
                flags++;
            }
            Eq(flags, Enum.GetValues(typeof(CmAuthFlags)).Length - 1, "no extra CmAuthFlags");
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
            Eq(p == 8 ? 128 : 76, Marshal.SizeOf(typeof(NativeConnection)), "sizeof(cm_connection)");
            Eq(p == 8 ? 32 : 16, Marshal.SizeOf(typeof(NativeAssignment)), "sizeof(cm_assignment)");
            Eq(p == 8 ? 72 : 44, (int)Marshal.OffsetOf(typeof(NativeConnection), "spn"), "offsetof(spn)");
            Eq(p == 8 ? 80 : 48, (int)Marshal.OffsetOf(typeof(NativeConnection), "proxy_mode"), "offsetof(proxy_mode)");
            Eq(p == 8 ? 120 : 68, (int)Marshal.OffsetOf(typeof(NativeConnection), "max_idle_connections"), "offsetof(max_idle_connections)");
            // The C struct's field order, as the header declares it.
            Match body = Regex.Match(header, "typedef struct cm_connection \\{(.*?)\\} cm_connection;", RegexOptions.Singleline);
            True(body.Success, "cm_connection in the header");
            var cFields = new List<string>();
            foreach (Match f in Regex.Matches(body.Groups[1].Value, "^\\s*[a-z_0-9 ]+?\\**\\s*\\b([a-z_0-9]+);", RegexOptions.Multiline))
                cFields.Add(f.Groups[1].Value);
            var csFields = new List<string>();
            foreach (FieldInfo fi in typeof(NativeConnection).GetFields()) csFields.Add(fi.Name);
            Eq(string.Join(" ", cFields), string.Join(" ", csFields), "cm_connection fields");
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
            Eq((CmSmartcardStatus)2, sc.Status, "Status (a number without a documented name is kept)");
            Eq(null, sc.StatusName, "StatusName of an undocumented number");
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
            Eq(CmRequestStatus.Approved, r.Status, "Status (Approved)");
            Eq(3, (int)r.Status, "Approved is 3");
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
            Eq("CmApi.AssignSmartcard", e.Function, "the C# method that failed");
            True(e.Message.StartsWith("CmApi.AssignSmartcard: "), "the message names the C# method: " + e.Message);
            True(!e.Message.Contains("cm_"), "no C function in the message: " + e.Message);
            True(e.Message.Contains("CmApi.ReconcileAssignment()"), "the advice names the C# method: " + e.Message);
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

        Test("library-checked argument errors are raised before anything is sent", delegate
        {
            int before = Count("POST", "/smartcards");
            CmException e = Throws(CmStatus.InvalidAtr, delegate { CmApi.AssignSmartcard(Conn(), NewRequest("Approved"), Guid.NewGuid().ToString(), "3b8d0180fba000000397425446590301c9"); });
            Eq(0, e.HttpStatus, "no HTTP status");
            var bad = Conn(); bad.ServerUrl = "ftp://cm.contoso.com/";
            Throws(CmStatus.InvalidUrl, delegate { CmApi.GetRequest(bad, req); });
            Eq(before, Count("POST", "/smartcards"), "POSTs sent");
        });

        Test("invalid arguments throw ArgumentException (parameter named, C# method in the message) before any native call", delegate
        {
            int before = Count("POST", "/smartcards") + Count("GET", "/requests");
            var noUrl = Conn(); noUrl.ServerUrl = "";
            var badMethod = Conn(); badMethod.AuthMethod = (CmAuthMethod)42;
            var badFlags = Conn(); badFlags.AuthFlags = (CmAuthFlags)0x80;
            var badProxy = Conn(); badProxy.ProxyMode = (CmProxyMode)9;
            var proxyNoUrl = Conn(); proxyNoUrl.ProxyMode = CmProxyMode.Explicit; proxyNoUrl.ProxyUrl = "";
            var basicNoUser = Conn(); basicNoUser.AuthMethod = CmAuthMethod.Basic; basicNoUser.UserName = ""; basicNoUser.Password = "x";
            var bearerNoToken = Conn(); bearerNoToken.AuthMethod = CmAuthMethod.Bearer;
            var cases = new List<KeyValuePair<string, Body>>();
            Action<string, Body> add = delegate(string expect, Body b) { cases.Add(new KeyValuePair<string, Body>(expect, b)); };
            // expect = "ExceptionType paramName CSharpMethod"
            add("ArgumentException requestId CmApi.AssignSmartcard", delegate { CmApi.AssignSmartcard(Conn(), "not-a-guid", card, Atr); });
            add("ArgumentNullException requestId CmApi.AssignSmartcard", delegate { CmApi.AssignSmartcard(Conn(), null, card, Atr); });
            add("ArgumentException requestId CmApi.AssignSmartcard", delegate { CmApi.AssignSmartcard(Conn(), "", card, Atr); });
            add("ArgumentException cardId CmApi.AssignSmartcard", delegate { CmApi.AssignSmartcard(Conn(), req, "1234", Atr); });
            add("ArgumentNullException cardId CmApi.AssignSmartcard", delegate { CmApi.AssignSmartcard(Conn(), req, null, Atr); });
            add("ArgumentNullException connection CmApi.AssignSmartcard", delegate { CmApi.AssignSmartcard(null, req, card, Atr); });
            add("ArgumentNullException assignment CmApi.AssignSmartcard", delegate { CmApi.AssignSmartcard(Conn(), (CmAssignment)null); });
            add("ArgumentException assignment CmApi.AssignSmartcard", delegate { CmApi.AssignSmartcard(Conn(), new CmAssignment(null, card, Atr)); });
            add("ArgumentException assignment CmApi.AssignSmartcard", delegate { CmApi.AssignSmartcard(Conn(), new CmAssignment(req, "{" + card, Atr)); });
            add("ArgumentException requestId CmApi.ReconcileAssignment", delegate { CmApi.ReconcileAssignment(Conn(), "x", card); });
            add("ArgumentException assignment CmApi.ReconcileAssignment", delegate { CmApi.ReconcileAssignment(Conn(), new CmAssignment(req, null, null)); });
            add("ArgumentNullException cardId CmApi.FindSmartcard", delegate { CmApi.FindSmartcard(Conn(), null); });
            add("ArgumentException cardId CmApi.FindSmartcard", delegate { CmApi.FindSmartcard(Conn(), "nope"); });
            add("ArgumentException smartcardUuid CmApi.GetSmartcard", delegate { CmApi.GetSmartcard(Conn(), ""); });
            add("ArgumentNullException requestId CmApi.GetRequest", delegate { CmApi.GetRequest(Conn(), null); });
            add("ArgumentException requestId CmApi.GetRequest", delegate { CmApi.GetRequest(Conn(), req + "0"); });
            add("ArgumentNullException requestId CmApi.AssignSmartcardFromReader", delegate { CmApi.AssignSmartcardFromReader(Conn(), null, null); });
            add("ArgumentOutOfRangeException byteOrder CmApi.AssignSmartcardFromReader", delegate { CmApi.AssignSmartcardFromReader(Conn(), req, null, (CmGuidOrder)7); });
            add("ArgumentOutOfRangeException byteOrder CmApi.ReadCardId", delegate { CmApi.ReadCardId(null, (CmGuidOrder)9); });
            add("ArgumentNullException atr CmApi.ParseAtr", delegate { CmApi.ParseAtr(null); });
            add("ArgumentException connection CmApi.GetRequest", delegate { CmApi.GetRequest(noUrl, req); });
            add("ArgumentOutOfRangeException connection CmApi.GetRequest", delegate { CmApi.GetRequest(badMethod, req); });
            add("ArgumentOutOfRangeException connection CmApi.GetRequest", delegate { CmApi.GetRequest(badFlags, req); });
            add("ArgumentOutOfRangeException connection CmApi.GetRequest", delegate { CmApi.GetRequest(badProxy, req); });
            add("ArgumentException connection CmApi.GetRequest", delegate { CmApi.GetRequest(proxyNoUrl, req); });
            add("ArgumentException connection CmApi.GetRequest", delegate { CmApi.GetRequest(basicNoUser, req); });
            add("ArgumentException connection CmApi.GetRequest", delegate { CmApi.GetRequest(bearerNoToken, req); });
            // A marker in this thread's last error: a native call made by any case below would replace it.
            string marker = "zz" + Guid.NewGuid().ToString("N");
            SetLastErrorWithMarker(marker);
            foreach (var c in cases)
            {
                string[] want = c.Key.Split(' ');
                try { c.Value(); throw new Exception(c.Key + ": nothing was thrown"); }
                catch (ArgumentException e)
                {
                    Eq(want[0], e.GetType().Name, c.Key + ": type (" + e.Message + ")");
                    Eq(want[1], e.ParamName, c.Key + ": ParamName");
                    True(e.Message.StartsWith(want[2] + ": "), c.Key + ": the message names the C# method: " + e.Message);
                }
                catch (CmException e) { throw new Exception(c.Key + ": CmException " + e.Status + " instead of an ArgumentException: " + e.Message); }
                string last;
                CmLibrary.TryReadString(NativeMethods.cm_last_error_message, out last);
                True(last != null && last.Contains(marker), c.Key + ": no native call was made (last error: " + last + ")");
            }
            Eq(before, Count("POST", "/smartcards") + Count("GET", "/requests"), "requests sent");
        });

        Test("every GUID form the library accepts passes the C# checks", delegate
        {
            string n = req.Replace("-", "");
            foreach (string form in new[] { req, req.ToUpperInvariant(), "{" + req + "}", "{" + req.ToUpperInvariant() + "}", n, " urn:uuid:" + req + " ", "\t" + req + "\n" })
            {
                CmRequestInfo r = CmApi.GetRequest(Conn(), form);
                True(r != null && r.Status == CmRequestStatus.Approved, "GetRequest(" + form + ")");
            }
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
                            if (k % 2 == 0) CmApi.AssignSmartcard(Conn(), req, card, "3b8d0180fba0000003974254465903" + k);
                            else CmApi.AssignSmartcard(Conn(), req, Guid.NewGuid().ToString(), Atr);
                        }
                        catch (CmException e) { errors[k] = e; if (k % 2 == 0 ? e.Status != CmStatus.InvalidAtr : e.Status != CmStatus.HttpForbidden) return; }
                    }
                });
                threads[i].Start();
            }
            foreach (var t in threads) t.Join();
            for (int i = 0; i < errors.Length; i++)
            {
                True(errors[i] != null, "thread " + i + " saw an error");
                if (i % 2 == 0) { Eq(CmStatus.InvalidAtr, errors[i].Status, "thread " + i); Eq(0, errors[i].HttpStatus, "thread " + i + " HTTP"); }
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

        Test("the raw P/Invoke layer is internal: only the idiomatic API is public", delegate
        {
            var exported = new SortedSet<string>();
            foreach (Type t in typeof(CmApi).Assembly.GetExportedTypes()) exported.Add(t.Name);
            foreach (string name in exported)
                True(!name.StartsWith("Native") && !name.EndsWith("Handle") && name != "CmStringGetter", "public type " + name);
            True(!typeof(NativeMethods).IsPublic && !typeof(NativeConnection).IsPublic && !typeof(CmSmartcardHandle).IsPublic,
                "NativeMethods, NativeConnection, CmSmartcardHandle are internal");
            foreach (string name in new[] { "CmApi", "CmSession", "CmLibrary", "CmConnection", "CmException", "CmServerUnverifiedException" })
                True(exported.Contains(name), name + " is public");
            foreach (MethodInfo m in typeof(CmLibrary).GetMethods(BindingFlags.Public | BindingFlags.Static))
                foreach (ParameterInfo pi in m.GetParameters())
                    True(pi.ParameterType.IsPublic || pi.ParameterType.IsByRef && pi.ParameterType.GetElementType().IsPublic,
                        "CmLibrary." + m.Name + " takes only public types");
        });

        Test("CmException is [Serializable]: fields survive BinaryFormatter and an AppDomain boundary", delegate
        {
            True(typeof(CmException).IsSerializable && typeof(CmServerUnverifiedException).IsSerializable, "[Serializable]");
            True(typeof(CmException).GetConstructor(BindingFlags.NonPublic | BindingFlags.Instance, null,
                new[] { typeof(System.Runtime.Serialization.SerializationInfo), typeof(System.Runtime.Serialization.StreamingContext) }, null) != null,
                "protected serialization constructor");
            CmException original = null;
            try { CmApi.AssignSmartcard(Conn(), req, Guid.NewGuid().ToString(), Atr); }
            catch (CmException e) { original = e; }
            True(original != null, "a 403 to serialize");
            CmException copy = RoundTrip(original);
            Eq(original.Status, copy.Status, "Status");
            Eq(original.Message, copy.Message, "Message");
            Eq(403, copy.HttpStatus, "HttpStatus");
            Eq(original.ServerMessage, copy.ServerMessage, "ServerMessage");
            Eq("CmApi.AssignSmartcard", copy.Function, "Function");
            var unverified = new CmServerUnverifiedException(new CmAssignResult(req, card, "", 201, "api/v1.0/smartcards/x", "x", false),
                "CmApi.AssignSmartcard: server not verified", 201, "CmApi.AssignSmartcard");
            var ucopy = (CmServerUnverifiedException)RoundTrip(unverified);
            Eq(CmStatus.AuthServerUnverified, ucopy.Status, "unverified Status");
            True(ucopy.ServerProcessed, "ServerProcessed");
            Eq(201, ucopy.Result.HttpStatus, "Result.HttpStatus");
            Eq(false, ucopy.Result.ServerVerified, "Result.ServerVerified");
            Eq(card, ucopy.Result.CardId, "Result.CardId");
            // What a .NET Framework host does: the exception crosses an AppDomain boundary.
            AppDomain other = AppDomain.CreateDomain("cm-test", null, AppDomain.CurrentDomain.SetupInformation);
            try
            {
                other.DoCallBack(ThrowCmExceptionHere);
                throw new Exception("nothing crossed the AppDomain boundary");
            }
            catch (CmException e)
            {
                Eq(CmStatus.PcscNoCard, e.Status, "Status across AppDomains");
                Eq(0x8010000CU, e.PcscCode, "PcscCode across AppDomains");
                Eq("corr-1", e.CorrelationId, "CorrelationId across AppDomains");
                Eq(502, e.HttpStatus, "HttpStatus across AppDomains");
                Eq("server says", e.ServerMessage, "ServerMessage across AppDomains");
                Eq("CmApi.ReadCardAtr", e.Function, "Function across AppDomains");
            }
            finally { AppDomain.Unload(other); }
        });

        // Card functions: against the virtual card when the PC/SC rig runs (tests/rigs/pcsc; run.sh reads
        // PCSC_RIG_ENV), otherwise they must fail with a PC/SC status (100-199) mapped to CmException.IsCardError.
        string rigAtr = Environment.GetEnvironmentVariable("PCSC_DEFAULT_ATR");
        string rigReader = Environment.GetEnvironmentVariable("PCSC_READER0");
        string rigCardHex = Environment.GetEnvironmentVariable("PCSC_DEFAULT_CARD_ID");
        bool rig = !string.IsNullOrEmpty(rigAtr) && !string.IsNullOrEmpty(rigReader) && !string.IsNullOrEmpty(rigCardHex);
        string idWindows = null, idRfc = null;
        // Without PCSC_RIG_ENV a PC/SC service of someone else may hold cards: nothing to assert about them.
        bool foreignCards = false;
        if (!rig)
        {
            try { foreignCards = Array.Exists(CmApi.ListReaders(), delegate(CmReader r) { return r.CardPresent; }); }
            catch (CmException) { }
        }
        if (rig)
        {
            byte[] raw = new byte[16];
            for (int i = 0; i < 16; i++) raw[i] = Convert.ToByte(rigCardHex.Substring(2 * i, 2), 16);
            idWindows = new Guid(raw).ToString();
            idRfc = rigCardHex.Substring(0, 8) + "-" + rigCardHex.Substring(8, 4) + "-" + rigCardHex.Substring(12, 4) + "-"
                + rigCardHex.Substring(16, 4) + "-" + rigCardHex.Substring(20);
        }

        Test("card: ListReaders, ReadCardAtr, ReadCardId, WaitForCard, CancelWaits, AssignSmartcardFromReader", delegate
        {
            // Under tests/run_all.sh (CM_REQUIRE_RIGS=1) the rig is up: the real-card branch is mandatory.
            if (!rig && Environment.GetEnvironmentVariable("CM_REQUIRE_RIGS") == "1")
                throw new Exception("CM_REQUIRE_RIGS=1 but PCSC_RIG_ENV / PCSC_DEFAULT_ATR is not set: the PC/SC rig is not reachable");
            if (foreignCards) { Console.WriteLine("     (cards present but PCSC_RIG_ENV not set: card checks skipped)"); return; }
            if (rig)
            {
                CmReader[] readers = CmApi.ListReaders();
                foreach (CmReader r in readers) Console.WriteLine("     reader: " + r.Name + (r.CardPresent ? " [" + r.Atr + "]" : ""));
                CmReader first = Array.Find(readers, delegate(CmReader r) { return r.Name == rigReader; });
                True(first != null && first.CardPresent, "the rig's reader " + rigReader + " holds a card");
                Eq(rigAtr, first.Atr, "ATR in the list");
                Eq(rigAtr, CmApi.ReadCardAtr(rigReader), "ReadCardAtr(name)");
                Eq(idWindows, CmApi.ReadCardId(rigReader), "ReadCardId(name)");
                Eq(idRfc, CmApi.ReadCardId(rigReader, CmGuidOrder.Rfc4122), "ReadCardId(name, Rfc4122)");
                Eq(rigReader, CmApi.WaitForCard(rigReader, 0), "WaitForCard");
                CmAssignResult a = CmApi.AssignSmartcardFromReader(Conn(), NewRequest("Approved"), rigReader);
                Eq(201, a.HttpStatus, "assign from reader");
                Eq(idWindows, a.CardId, "card id of the result");
                Eq(rigAtr, a.Atr, "ATR of the result");
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

        Test("card: a reader of null or \"\" is the first reader with a card, in every card call", delegate
        {
            if (foreignCards) { Console.WriteLine("     (cards present but PCSC_RIG_ENV not set: skipped)"); return; }
            Body[] emptyCalls = {
                delegate { Eq(rigAtr, CmApi.ReadCardAtr(""), "ReadCardAtr(\"\")"); },
                delegate { Eq(rigAtr, CmApi.ReadCardAtr(null), "ReadCardAtr(null)"); },
                delegate { Eq(idWindows, CmApi.ReadCardId(""), "ReadCardId(\"\")"); },
                delegate { Eq(idRfc, CmApi.ReadCardId("", CmGuidOrder.Rfc4122), "ReadCardId(\"\", Rfc4122)"); },
                delegate { Eq(rigReader, CmApi.WaitForCard("", 0), "WaitForCard(\"\")"); },
                delegate
                {
                    AssignedFromReader(delegate { return CmApi.AssignSmartcardFromReader(Conn(), NewRequest("Approved"), ""); }, idWindows);
                } };
            foreach (Body call in emptyCalls)
            {
                if (rig) { call(); continue; }
                try { call(); throw new Exception("no rig, yet no exception"); }
                catch (CmException e)
                {
                    True(e.IsCardError, "PC/SC status expected, got " + e.Status);
                    True(e.Status != CmStatus.PcscUnknownReader, "\"\" is not a reader name: " + e.Message);
                }
            }
        });

        // ---- sessions ----

        Test("CmSession: every operation, errors name CmSession methods, Dispose", delegate
        {
            var settings = Conn();
            var session = new CmSession(settings);
            settings.ServerUrl = "http://127.0.0.1:1/"; // the session copied the settings when it was made
            Eq(url, session.ServerUrl, "ServerUrl");
            string r1 = NewRequest("Approved"), c1 = Guid.NewGuid().ToString();
            CmAssignResult a = session.AssignSmartcard(r1, c1, Atr);
            Eq(201, a.HttpStatus, "assign");
            True(a.ServerVerified, "ServerVerified");
            Eq(c1, a.CardId, "CardId");
            Eq(a.SmartcardUuid, session.GetSmartcard(a.SmartcardUuid).Uuid, "GetSmartcard");
            Eq(a.SmartcardUuid, session.FindSmartcard(c1).Uuid, "FindSmartcard");
            Eq(a.SmartcardUuid, session.GetRequest(r1).NewSmartcardUuid, "GetRequest");
            Eq(CmBindingState.BoundToThisCard, session.ReconcileAssignment(r1, c1).State, "ReconcileAssignment");
            Eq(CmBindingState.BoundToThisCard, session.ReconcileAssignment(new CmAssignment(r1, c1, null)).State, "ReconcileAssignment(CmAssignment)");
            True(session.GetRequest(Guid.NewGuid().ToString()) == null, "unknown request gives null");
            True(session.FindSmartcard(Guid.NewGuid().ToString()) == null, "unknown card gives null");
            CmException e = Throws(CmStatus.HttpForbidden, delegate { session.AssignSmartcard(new CmAssignment(r1, Guid.NewGuid().ToString(), null)); });
            Eq("CmSession.AssignSmartcard", e.Function, "Function");
            True(e.Message.StartsWith("CmSession.AssignSmartcard: "), "message " + e.Message);
            try { session.GetRequest("nope"); throw new Exception("no ArgumentException"); }
            catch (ArgumentException ae) { Eq("requestId", ae.ParamName, "ParamName"); True(ae.Message.StartsWith("CmSession.GetRequest: "), ae.Message); }
            True(!session.IsClosed, "open");
            session.Dispose();
            True(session.IsClosed, "closed");
            session.Dispose();
            try { session.GetRequest(r1); throw new Exception("no ObjectDisposedException"); }
            catch (ObjectDisposedException) { }
            try { new CmSession(null); throw new Exception("no ArgumentNullException"); }
            catch (ArgumentNullException ane) { Eq("connection", ane.ParamName, "ParamName"); }
            var bad = Conn(); bad.ServerUrl = "ftp://cm.contoso.com/";
            CmException ue = Throws(CmStatus.InvalidUrl, delegate { new CmSession(bad); });
            Eq("new CmSession", ue.Function, "Function of the constructor");
        });

        Test("CmSession reuses its connection; one-shot calls do not", delegate
        {
            using (var session = new CmSession(Conn()))
            {
                session.GetRequest(req); // the first call opens the connection
                Http("DELETE", "/_emulator/log", null);
                for (int i = 0; i < 6; i++) True(session.GetRequest(req) != null, "GetRequest " + i);
                var ids = ConnectionIds();
                Eq(6, ids.Count, "requests logged");
                Eq(1, new HashSet<string>(ids).Count, "connections used by 6 session calls");
            }
            Http("DELETE", "/_emulator/log", null);
            for (int i = 0; i < 3; i++) CmApi.GetRequest(Conn(), req);
            Eq(3, new HashSet<string>(ConnectionIds()).Count, "connections used by 3 one-shot calls");
        });

        Test("CmSession is shared by threads; Dispose while a call runs lets it finish", delegate
        {
            var session = new CmSession(Conn());
            var reqs = new string[8];
            for (int i = 0; i < reqs.Length; i++) reqs[i] = NewRequest("Approved");
            int before = Count("POST", "/smartcards");
            var errors = new List<Exception>();
            var threads = new Thread[8];
            for (int i = 0; i < threads.Length; i++)
            {
                int k = i;
                threads[i] = new Thread(delegate()
                {
                    try
                    {
                        Eq(201, session.AssignSmartcard(reqs[k], Guid.NewGuid().ToString(), Atr).HttpStatus, "assign " + k);
                        for (int n = 0; n < 10; n++) True(session.GetRequest(reqs[k]).NewSmartcardUuid.Length == 36, "bound " + k);
                    }
                    catch (Exception e) { lock (errors) errors.Add(e); }
                });
                threads[i].Start();
            }
            foreach (var t in threads) t.Join();
            if (errors.Count > 0) throw errors[0];
            Eq(before + 8, Count("POST", "/smartcards"), "one POST per assignment");
            // A call blocked in the library while another thread disposes the session.
            Fault("hang:GET:/requests:1");
            try
            {
                var c = Conn(); c.TimeoutMs = 1500;
                var slow = new CmSession(c);
                Exception seen = null;
                var worker = new Thread(delegate() { try { slow.GetRequest(req); } catch (Exception e) { seen = e; } });
                worker.Start();
                Thread.Sleep(300);
                slow.Dispose();
                worker.Join();
                True(seen is ObjectDisposedException || (seen is CmException && ((CmException)seen).Status == CmStatus.Timeout),
                    "the running call ends normally (Timeout) or never started: " + seen);
                True(slow.IsClosed, "closed");
            }
            finally { ClearFaults(); }
            session.Dispose();
        });

        Test("proxy settings reach the library: mode, url, bypass, credentials", delegate
        {
            // Loopback servers are never proxied, so the server is a name only the proxy sees (never resolved).
            var l = new TcpListener(IPAddress.Loopback, 0);
            l.Start();
            int deadPort = ((IPEndPoint)l.LocalEndpoint).Port;
            l.Stop();
            var c = Conn();
            c.ServerUrl = "http://cm.invalid/CertificateManagement";
            c.ProxyMode = CmProxyMode.Explicit;
            c.ProxyUrl = "http://127.0.0.1:" + deadPort;
            c.ProxyBypass = "other.invalid";
            CmException e = Throws(CmStatus.ProxyFailed, delegate { CmApi.GetRequest(c, req); });
            True(e.IsTransportError, "category");
            using (var s = new CmSession(c)) Throws(CmStatus.ProxyFailed, delegate { s.GetRequest(req); });
            c.ProxyMode = CmProxyMode.None;
            True(CmApi.GetRequest(Conn(), req) != null, "ProxyMode.None");
            using (var proxy = new FakeProxy("agent", "pr\u00f6xy pass"))
            {
                c.ProxyMode = CmProxyMode.Explicit;
                c.ProxyUrl = "http://127.0.0.1:" + proxy.Port;
                c.ServerUrl = "https://cm.invalid/CertificateManagement"; // proxy authentication: CONNECT tunnels
                e = Throws(CmStatus.ProxyAuthRequired, delegate { CmApi.GetRequest(c, req); });
                True(proxy.Lines.Count >= 1 && proxy.Lines[0].Contains("cm.invalid"), "the proxy was asked for cm.invalid: " + string.Join(" | ", proxy.Lines));
                c.SetProxyCredential(new NetworkCredential("agent", "pr\u00f6xy pass"));
                c.AuthFlags = CmAuthFlags.AllowInsecureHttp; // Basic to a plain-http proxy
                c.MaxIdleConnections = 1;
                c.IdleTimeoutMs = 1000;
                using (var s = new CmSession(c))
                {
                    // The fake proxy refuses the authorized tunnel (502): nothing sent, ProxyFailed.
                    CmException through = Throws(CmStatus.ProxyFailed, delegate { s.GetRequest(req); });
                    True(proxy.Authorized > 0, "the proxy accepted Proxy-Authorization: Basic agent:... (" + through.Message + ")");
                }
            }
        });

        Test("AuthServerUnverified: the card is bound, the result comes with CmServerUnverifiedException (auth rig, NTLM)", delegate
        {
            string envPath = Environment.GetEnvironmentVariable("AUTH_RIG_ENV");
            if (string.IsNullOrEmpty(envPath))
            {
                if (Environment.GetEnvironmentVariable("CM_REQUIRE_RIGS") == "1") throw new Exception("CM_REQUIRE_RIGS=1 but AUTH_RIG_ENV is not set");
                Console.WriteLine("     (AUTH_RIG_ENV not set: skipped)");
                return;
            }
            var rig2 = new Dictionary<string, string>();
            foreach (string line in File.ReadAllLines(envPath))
            {
                int eq = line.IndexOf('=');
                if (eq > 0 && !line.StartsWith("#")) rig2[line.Substring(0, eq).Trim()] = line.Substring(eq + 1).Trim();
            }
            string backend = rig2["AUTH_BACKEND_URL"];
            Func<string> seed = delegate
            {
                string id = Guid.NewGuid().ToString();
                HttpTo(backend, "POST", "/_emulator/requests", "{\"uuid\":\"" + id + "\",\"status\":\"Approved\"}");
                return id;
            };
            var c = new CmConnection(rig2["AUTH_NTLM_URL"]);
            c.AuthMethod = CmAuthMethod.Ntlm;
            c.UserName = rig2["AUTH_NTLM_DOMAIN"] + "\\" + rig2["AUTH_NTLM_USER"];
            c.Password = rig2["AUTH_NTLM_PASSWORD"];
            c.TimeoutMs = 15000;
            c.AuthFlags = CmAuthFlags.AllowInsecureHttp;
            // NTLM proves nothing about the server: fine unless RequireMutualAuth.
            CmAssignResult plain = CmApi.AssignSmartcard(c, seed(), Guid.NewGuid().ToString(), Atr);
            Eq(201, plain.HttpStatus, "NTLM assign");
            True(plain.ServerVerified, "ServerVerified of a normal result");
            c.AuthFlags = CmAuthFlags.AllowInsecureHttp | CmAuthFlags.RequireMutualAuth;
            var direct = new CmConnection(backend); direct.AuthMethod = CmAuthMethod.None;
            Body[] assigns = {
                delegate { CmApi.AssignSmartcard(c, seed(), Guid.NewGuid().ToString(), Atr); },
                delegate { using (var s = new CmSession(c)) s.AssignSmartcard(seed(), Guid.NewGuid().ToString(), Atr); } };
            foreach (Body assign in assigns)
            {
                try { assign(); throw new Exception("no CmServerUnverifiedException"); }
                catch (CmServerUnverifiedException e)
                {
                    Eq(CmStatus.AuthServerUnverified, e.Status, "Status");
                    True(e.ServerProcessed && !e.OutcomeUnknown, "ServerProcessed");
                    Eq(201, e.Result.HttpStatus, "Result.HttpStatus");
                    Eq(false, e.Result.ServerVerified, "Result.ServerVerified");
                    Eq(36, e.Result.SmartcardUuid.Length, "Result.SmartcardUuid");
                    True(e.Message.Contains("do not send it again"), "the message forbids a resend: " + e.Message);
                    CmRequestInfo bound = CmApi.GetRequest(direct, e.Result.RequestId);
                    Eq(e.Result.SmartcardUuid, bound.NewSmartcardUuid, "the backend bound the card");
                }
            }
            // A GET that was answered but not proven: plain CmException (a GET may be sent again).
            CmException ge = Throws(CmStatus.AuthServerUnverified, delegate { CmApi.GetRequest(c, seed()); });
            True(!(ge is CmServerUnverifiedException), "GETs have no result to carry");
        });

        // ---- the PowerShell module's code paths: exactly the calls and argument values each cmdlet makes.
        // PowerShell passes $null (an omitted parameter) to a .NET string parameter as "".

        Test("module: New-CmConnection / New-CmSession with every optional string empty", delegate
        {
            // New-CmConnection -ServerUrl $url -Authentication None (omitted strings arrive as "").
            var c = new CmConnection(url);
            c.AuthMethod = CmAuthMethod.None;
            c.UserName = ""; c.Password = ""; c.BearerToken = ""; c.ExtraCaFile = ""; c.Spn = "";
            c.ProxyUrl = ""; c.ProxyBypass = ""; c.ProxyUserName = ""; c.ProxyPassword = "";
            True(CmApi.GetRequest(c, req) != null, "one-shot call");
            using (var s = new CmSession(c)) True(s.GetRequest(req) != null, "New-CmSession");
        });

        Test("module: server cmdlets over a session, optional strings as \"\"", delegate
        {
            // Each cmdlet without -Session makes its own session for the pipeline and disposes it at the end.
            var conn = Conn();
            using (var session = new CmSession(conn))
            {
                string r1 = NewRequest("Approved"), c1 = Guid.NewGuid().ToString();
                // Register-CmSmartcard -RequestId r1 -CardId c1 (no -Atr)
                CmAssignResult a = session.AssignSmartcard(r1, c1, "");
                Eq(201, a.HttpStatus, "Register-CmSmartcard");
                Eq("", a.Atr, "no ATR sent");
                // Test-CmSmartcardAssignment -RequestId r1 -CardId c1 [-Quiet]
                Eq(CmBindingState.BoundToThisCard, session.ReconcileAssignment(r1, c1).State, "Test-CmSmartcardAssignment");
                // Get-CmSmartcard -CardId c1 ; Get-CmSmartcard -SmartcardUuid ...
                Eq(a.SmartcardUuid, session.FindSmartcard(c1).Uuid, "Get-CmSmartcard -CardId");
                Eq(a.SmartcardUuid, session.GetSmartcard(a.SmartcardUuid).Uuid, "Get-CmSmartcard -SmartcardUuid");
                // Get-CmRequest -RequestId r1
                Eq(CmRequestStatus.Approved, session.GetRequest(r1).Status, "Get-CmRequest");
                // Register-CmSmartcardFromReader -RequestId r2 (no -Reader, -ByteOrder default Windows)
                string r2 = NewRequest("Approved");
                if (rig)
                {
                    AssignedFromReader(delegate { return session.AssignSmartcardFromReader(r2, "", CmGuidOrder.Windows); }, idWindows);
                }
                else if (!foreignCards)
                {
                    try { session.AssignSmartcardFromReader(r2, "", CmGuidOrder.Windows); throw new Exception("no rig, yet no exception"); }
                    catch (CmException e) { True(e.IsCardError && e.Status != CmStatus.PcscUnknownReader, "card status: " + e.Status); }
                }
            }
        });

        Test("module: card cmdlets, optional -Reader as \"\"", delegate
        {
            if (!rig) { Console.WriteLine("     (no PC/SC rig: covered by the no-rig branch above)"); return; }
            // Get-CmSmartcardReader
            CmReader[] readers = CmApi.ListReaders();
            // Get-CmSmartcardAtr ; Get-CmSmartcardReader | Where-Object CardPresent | Get-CmSmartcardAtr
            Eq(rigAtr, CmApi.ReadCardAtr(""), "Get-CmSmartcardAtr");
            foreach (CmReader r in readers) if (r.CardPresent) Eq(r.Atr, CmApi.ReadCardAtr(r.Name), "Get-CmSmartcardAtr by pipeline");
            // Get-CmCardId ; Get-CmCardId -ByteOrder Rfc4122
            Eq(idWindows, CmApi.ReadCardId("", CmGuidOrder.Windows), "Get-CmCardId");
            Eq(idRfc, CmApi.ReadCardId("", CmGuidOrder.Rfc4122), "Get-CmCardId -ByteOrder Rfc4122");
        });

        EnrollmentTests();

        Console.WriteLine(passed + " passed, " + failed + " failed");
        return failed == 0 ? 0 : 1;
    }
}

// A loopback HTTP proxy that demands Basic user:password (407 otherwise), records each request line and
// answers an authorized request with 404 (or 502 to a CONNECT): enough to see what the library sent it.
sealed class FakeProxy : IDisposable
{
    readonly TcpListener listener = new TcpListener(IPAddress.Loopback, 0);
    readonly string expected;
    readonly Thread thread;
    public readonly List<string> Lines = new List<string>();
    public int Authorized;

    public FakeProxy(string user, string password)
    {
        expected = "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes(user + ":" + password));
        listener.Start();
        thread = new Thread(Run);
        thread.IsBackground = true;
        thread.Start();
    }

    public int Port { get { return ((IPEndPoint)listener.LocalEndpoint).Port; } }

    void Run()
    {
        try
        {
            while (true)
            {
                using (TcpClient client = listener.AcceptTcpClient())
                {
                    client.ReceiveTimeout = 5000;
                    NetworkStream stream = client.GetStream();
                    try { while (Serve(stream)) { } } catch (IOException) { }
                }
            }
        }
        catch (SocketException) { }
        catch (ObjectDisposedException) { }
        catch (InvalidOperationException) { } // stopped
    }

    // One request; false when the client closed the connection.
    bool Serve(NetworkStream stream)
    {
        var head = new StringBuilder();
        int b;
        while (!head.ToString().EndsWith("\r\n\r\n"))
        {
            if ((b = stream.ReadByte()) < 0) return false;
            head.Append((char)b);
        }
        string[] lines = head.ToString().Split(new[] { "\r\n" }, StringSplitOptions.None);
        lock (Lines) Lines.Add(lines[0]);
        int length = 0;
        bool authorized = false;
        foreach (string line in lines)
        {
            int colon = line.IndexOf(':');
            if (colon < 0) continue;
            string name = line.Substring(0, colon).Trim().ToLowerInvariant(), value = line.Substring(colon + 1).Trim();
            if (name == "content-length") length = int.Parse(value);
            if (name == "proxy-authorization" && value == expected) authorized = true;
        }
        for (int i = 0; i < length; i++) stream.ReadByte();
        string answer;
        if (!authorized)
            answer = "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"test\"\r\nContent-Length: 0\r\n\r\n";
        else
        {
            Interlocked.Increment(ref Authorized);
            answer = lines[0].StartsWith("CONNECT") ? "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                : "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        }
        byte[] bytes = Encoding.ASCII.GetBytes(answer);
        stream.Write(bytes, 0, bytes.Length);
        return !answer.Contains("Connection: close");
    }

    public void Dispose() { listener.Stop(); }
}
