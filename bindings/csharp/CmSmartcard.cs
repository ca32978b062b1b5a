// CmSmartcard.cs: C# binding for the cm-smartcard C library (cm_smartcard.dll / libcm_smartcard.so).
//
// One file, C# 5 (compiles with Windows PowerShell 5.1's Add-Type, `mcs -langversion:5`, csc of .NET
// Framework 4.x and every later compiler). Usable from a C# project (add the file), from PowerShell
// (`Add-Type -Path CmSmartcard.cs`; the CmSmartcard PowerShell module does that) and from Mono.
//
// Public surface: CmApi (one-shot calls), CmSession (the same calls over pooled connections, plus the whole CM
// enrollment and card lifecycle: profile templates, policies, smart card configuration, requests, admin keys,
// challenge/response, server-proposed PINs, CSR options, certificate data, card status, operations, certificates,
// profiles; IDisposable), CmConnection / CmAssignment / CmRequestSpec (inputs), CmNames (the enum names CM takes),
// the result classes (CmRequestInfo, CmSmartcardInfo, CmCsrOption, CmCertificateData, ... with their Json) and the
// generic CmObject / CmList (typed accessors by field name), CmException (+ CmServerUnverifiedException,
// CmServerUnverifiedResultException), CmLibrary (loading, version). The raw P/Invoke layer (NativeMethods, Native*
// structs, handles) is internal.
//
// Enums: CM sends numbers and takes names. CmRequestType / CmRequestStatus / CmSmartcardStatus name only the numbers
// CM documents; any other number is kept as it is ((CmRequestStatus)1 is a valid value that prints as "1"), and the
// ...Name properties give the library's name or null. Names for calls are strings, checked against CmNames.
//
// Secrets: admin keys come back as byte[] (clear them with Array.Clear when done), PINs as SecureString; every copy
// the binding makes (native buffers, UTF-8 copies of PFX passwords) is wiped before it is freed.
//
// Rules followed (see include/cm_smartcard.h for the C API):
// - [DllImport("cm_smartcard", CallingConvention = Cdecl)]: Cdecl is mandatory for 32-bit Windows hosts.
//   The runtime resolves "cm_smartcard" to cm_smartcard.dll / libcm_smartcard.so. DllImport does not search
//   a script's folder: call CmLibrary.Load(fullPath) before the first call (the PowerShell module does). On
//   Windows that is LoadLibraryW; on Linux dlopen(RTLD_NOW | RTLD_GLOBAL), after which DllImport finds the
//   loaded library by its SONAME (libcm_smartcard.so), so no LD_LIBRARY_PATH is needed.
// - Invalid arguments (null or empty required strings, malformed GUIDs, enum values out of range) throw
//   ArgumentNullException / ArgumentException / ArgumentOutOfRangeException, naming the parameter, before any
//   native call. Failures of the library throw CmException, whose message and Function name the C# method
//   ("CmApi.AssignSmartcard: ...").
// - Optional strings: null and "" are the same ("not given"). In particular a reader name of null or ""
//   means "the first reader that holds a card" (PowerShell passes $null as "" to a string parameter).
// - Strings go in as NUL-terminated UTF-8 in unmanaged memory we allocate and free (secrets are wiped
//   first) and come out through the size-query pattern as UTF-8 bytes. Never the ANSI code page.
// - size_t is UIntPtr; no bool crosses the boundary.
// - Every failing status becomes a CmException carrying the status, the HTTP status, the PC/SC code, the
//   library's message, the server's message and the correlation id, read on the same thread right after
//   the failing call. CmException is [Serializable] (.NET Framework hosts marshal exceptions across
//   AppDomains).
// - Objects the library hands out are held in SafeHandles (freed exactly once); the high-level methods
//   copy everything out and free them before returning plain objects (pipeline-friendly in PowerShell).
// - The ABI version is checked on first use (CmLibrary.EnsureCompatible).
//
// Thread safety: every method may be called from any thread; network calls block for at most the
// configured timeouts (defaults: connect 10 s, request 30 s). UI code should call them from a worker.
// One CmSession may be shared by any number of threads (the native session is thread-safe); Dispose it
// once, when no new calls will be started (calls already running finish first: the SafeHandle defers the
// native free until they return; calls started after Dispose throw ObjectDisposedException).

using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using System.Runtime.Serialization;
using System.Security;
using System.Text;

namespace CmSmartcard
{
    /// <summary>Status codes of the C API (cm_status). The numbers are stable; new codes may be added.</summary>
    public enum CmStatus : int
    {
        Ok = 0,
        NullArgument = 1,
        InvalidUtf8 = 2,
        InvalidGuid = 3,
        InvalidAtr = 4,
        InvalidUrl = 5,
        BufferTooSmall = 6,
        InvalidArgument = 7,
        InvalidStructSize = 8,
        InvalidFile = 9,
        /// <summary>CmObject: the field is absent or null.</summary>
        FieldMissing = 10,
        /// <summary>CmObject: the field is not of the asked type.</summary>
        FieldType = 11,
        /// <summary>CmObject / CmList: the index is past the end of the array.</summary>
        IndexOutOfRange = 12,
        /// <summary>CmObject.GetEnumName: the number has no name the library knows (GetInt64 gives it).</summary>
        EnumUnknown = 13,
        PcscNoService = 100,
        PcscNoReaders = 101,
        PcscUnknownReader = 102,
        PcscNoCard = 103,
        PcscCardRemoved = 104,
        PcscCardReset = 105,
        PcscSharingViolation = 106,
        PcscUnresponsiveCard = 107,
        PcscUnpoweredCard = 108,
        PcscUnsupportedCard = 109,
        PcscTimeout = 110,
        PcscCancelled = 111,
        PcscReaderUnavailable = 112,
        CardIdNotFound = 113,
        CardProtocolError = 114,
        PcscError = 199,
        DnsFailed = 200,
        ConnectFailed = 201,
        TlsFailed = 202,
        Timeout = 203,
        OutcomeUnknown = 204,
        ResponseTooLarge = 205,
        RedirectRefused = 206,
        /// <summary>The proxy refused or failed the tunnel, or could not be reached: nothing was sent.</summary>
        ProxyFailed = 207,
        TransportError = 299,
        HttpForbidden = 300,
        HttpNotFound = 301,
        HttpServerError = 302,
        HttpBadRequest = 303,
        HttpUnexpectedStatus = 304,
        MalformedResponse = 305,
        AuthRequired = 400,
        AuthRejected = 401,
        AuthUnavailable = 402,
        AuthInsecureTransport = 403,
        AuthMutualFailed = 404,
        AuthUnsupported = 405,
        /// <summary>
        /// The server PROCESSED the request (2xx) but did not prove its identity (final Negotiate token missing
        /// or invalid). The outcome is known: never send the request again. For an assignment the card IS bound;
        /// see CmServerUnverifiedException.Result.
        /// </summary>
        AuthServerUnverified = 406,
        /// <summary>The proxy demands authentication that could not be given.</summary>
        ProxyAuthRequired = 407,
        Panic = 900,
        Internal = 901
    }

    /// <summary>Result of a reconciliation (CM_BINDING_*).</summary>
    public enum CmBindingState : int
    {
        /// <summary>No card is bound to the request: the assignment did not happen and may be sent again.</summary>
        NotBound = 0,
        /// <summary>This card is bound to the request: the assignment happened; do not send it again.</summary>
        BoundToThisCard = 1,
        /// <summary>Another card is bound to the request.</summary>
        BoundToOtherCard = 2
    }

    /// <summary>Authentication methods (CM_AUTH_*).</summary>
    public enum CmAuthMethod : uint
    {
        /// <summary>Negotiate (Kerberos, NTLM fallback) as the current user. The default.</summary>
        Negotiate = 0,
        /// <summary>No authentication; a 401 answer gives CmStatus.AuthRequired.</summary>
        None = 1,
        /// <summary>Negotiate with an explicit user name (DOMAIN\user or user@REALM) and password.</summary>
        NegotiateExplicit = 2,
        /// <summary>NTLM with an explicit user name (DOMAIN\user) and password.</summary>
        Ntlm = 3,
        /// <summary>HTTP Basic (HTTPS only unless AllowInsecureHttp).</summary>
        Basic = 4,
        /// <summary>Authorization: Bearer token.</summary>
        Bearer = 5
    }

    /// <summary>Authentication flags (CM_AUTH_FLAG_*).</summary>
    [Flags]
    public enum CmAuthFlags : uint
    {
        None = 0,
        /// <summary>Allow credentials or tokens over plain http:// (labs only).</summary>
        AllowInsecureHttp = 1,
        /// <summary>Refuse an answer that carries no proof of the server's identity (no final Negotiate token).</summary>
        RequireMutualAuth = 2
    }

    /// <summary>How the library finds its HTTP proxy (CM_PROXY_*).</summary>
    public enum CmProxyMode : uint
    {
        /// <summary>The system's settings (default): on Windows WinHTTP / Internet Options incl. PAC; elsewhere
        /// HTTPS_PROXY / HTTP_PROXY / ALL_PROXY with NO_PROXY. Loopback is never proxied.</summary>
        System = 0,
        /// <summary>Always connect directly.</summary>
        None = 1,
        /// <summary>CmConnection.ProxyUrl, except for the hosts in CmConnection.ProxyBypass.</summary>
        Explicit = 2
    }

    /// <summary>Card-id byte order (CM_GUID_ORDER_*).</summary>
    public enum CmGuidOrder : uint
    {
        /// <summary>Windows / .NET new Guid(bytes): the default, the most likely reading of MIM CM.</summary>
        Windows = 0,
        /// <summary>RFC 4122: the 16 bytes in string order.</summary>
        Rfc4122 = 1
    }

    /// <summary>What a CmObject holds (CM_OBJECT_*).</summary>
    public enum CmObjectKind : int
    {
        ProfileTemplate = 1,
        Policy = 2,
        SmartcardConfig = 3,
        Request = 4,
        Smartcard = 5,
        CsrOption = 6,
        CertificateData = 7,
        CardCertificate = 8,
        UserCertificate = 9,
        Profile = 10,
        DataItem = 11,
        /// <summary>The answer of CreateRequest: fields Uri and Uuid.</summary>
        Created = 12,
        Other = 99
    }

    /// <summary>
    /// Request.RequestType as CM sends it (a number). CM documents the numbers of Enroll and Unblock only; every
    /// other number is kept as it is: (CmRequestType)4 is a valid value, printed as "4". To name a type in a
    /// call (CmRequestSpec.Type), use the names in CmNames.RequestTypes.
    /// </summary>
    public enum CmRequestType : int
    {
        /// <summary>The field was absent or null.</summary>
        Missing = -1,
        Enroll = 1,
        Unblock = 5
    }

    /// <summary>
    /// Request.Status as CM sends it (a number). CM documents the numbers of Approved and Completed only; every other
    /// number is kept as it is ((CmRequestStatus)1 prints as "1"); CmRequestInfo.StatusName has the name where the
    /// library knows it.
    /// </summary>
    public enum CmRequestStatus : int
    {
        /// <summary>The field was absent or null.</summary>
        Missing = -1,
        Approved = 3,
        Completed = 8
    }

    /// <summary>
    /// Smartcard.Status as CM sends it (a number). CM's documentation shows only Retired = 6 with its name; every
    /// other number (2 after binding, 3 once active in the examples) is kept as it is.
    /// </summary>
    public enum CmSmartcardStatus : int
    {
        /// <summary>The field was absent or null.</summary>
        Missing = -1,
        Retired = 6
    }

    /// <summary>
    /// The names CM documents for its enums in request bodies and query strings (matched case-insensitively).
    /// Names go in; numbers come out (see CmRequestType, CmRequestStatus, CmSmartcardStatus).
    /// </summary>
    public static class CmNames
    {
        /// <summary>Request types for CmRequestSpec.Type (POST /requests).</summary>
        public static readonly string[] RequestTypes = { "Enroll", "Duplicate", "OfflineUnblock", "OnlineUpdate", "Renew",
            "Recover", "RecoverOnBehalf", "Reinstate", "Retire", "Revoke", "TemporaryCards", "Unblock" };
        /// <summary>Policy types for GetProfileTemplatePolicy: the request types, and TemporaryEnroll (= TemporaryCards).</summary>
        public static readonly string[] PolicyTypes = { "Enroll", "Duplicate", "OfflineUnblock", "OnlineUpdate", "Renew",
            "Recover", "RecoverOnBehalf", "Reinstate", "Retire", "Revoke", "TemporaryCards", "TemporaryEnroll", "Unblock" };
        /// <summary>Request states to filter ListRequests by (GET /requests?status=; the documented list).</summary>
        public static readonly string[] RequestStatuses = { "Approved", "Canceled", "Completed", "Denied", "Executing",
            "Failed", "None", "Pending" };
        /// <summary>The states SetRequestStatus may set (PUT /requests/{id}).</summary>
        public static readonly string[] SettableRequestStatuses = { "Completed", "Canceled", "Abandoned" };
        /// <summary>The states SetSmartcardStatus may set (PUT /requests/{rid}/smartcards/{sid}): the SmartcardStatus members.</summary>
        public static readonly string[] SettableSmartcardStatuses = { "Active", "Assigned", "Disabled", "New", "None", "Retired",
            "Suspended" };
        /// <summary>Profile states to filter ListProfiles by (GET /profiles?status=).</summary>
        public static readonly string[] ProfileStatuses = { "None", "Pending", "Denied", "Approved", "Executing", "Failed",
            "Canceled", "Completed", "Active" };

        /// <summary>The documented spelling of name in names (case-insensitive), or null.</summary>
        public static string Find(string[] names, string name)
        {
            if (names == null || name == null) return null;
            foreach (string n in names) if (String.Equals(n, name.Trim(), StringComparison.OrdinalIgnoreCase)) return n;
            return null;
        }
    }

    /// <summary>A failure reported by the cm-smartcard library.</summary>
    [Serializable]
    public class CmException : Exception
    {
        private readonly CmStatus status;
        private readonly int httpStatus;
        private readonly uint pcscCode;
        private readonly string serverMessage;
        private readonly string correlationId;
        private readonly string function;

        public CmException(CmStatus status, string message, int httpStatus, uint pcscCode,
            string serverMessage, string correlationId, string function)
            : base(message)
        {
            this.status = status;
            this.httpStatus = httpStatus;
            this.pcscCode = pcscCode;
            this.serverMessage = serverMessage ?? "";
            this.correlationId = correlationId ?? "";
            this.function = function ?? "";
        }

        // Formatter-based serialization (.NET Framework AppDomain marshalling, remoting). The pragma keeps
        // newer compilers quiet about SYSLIB0051 (obsolete in .NET 8) without a symbol C# 5 compilers reject.
#pragma warning disable
        /// <summary>Deserializes the exception with its CM fields.</summary>
        protected CmException(SerializationInfo info, StreamingContext context)
            : base(info, context)
        {
            status = (CmStatus)info.GetInt32("CmStatus");
            httpStatus = info.GetInt32("CmHttpStatus");
            pcscCode = info.GetUInt32("CmPcscCode");
            serverMessage = info.GetString("CmServerMessage") ?? "";
            correlationId = info.GetString("CmCorrelationId") ?? "";
            function = info.GetString("CmFunction") ?? "";
        }

        /// <summary>Serializes the exception with its CM fields.</summary>
        [SecurityCritical]
        public override void GetObjectData(SerializationInfo info, StreamingContext context)
        {
            if (info == null) throw new ArgumentNullException("info");
            info.AddValue("CmStatus", (int)status);
            info.AddValue("CmHttpStatus", httpStatus);
            info.AddValue("CmPcscCode", pcscCode);
            info.AddValue("CmServerMessage", serverMessage);
            info.AddValue("CmCorrelationId", correlationId);
            info.AddValue("CmFunction", function);
            base.GetObjectData(info, context);
        }
#pragma warning restore

        /// <summary>The library's status code.</summary>
        public CmStatus Status { get { return status; } }
        /// <summary>The numeric status code (also for codes newer than this binding).</summary>
        public int StatusCode { get { return (int)status; } }
        /// <summary>The short static description of the status (cm_status_str).</summary>
        public string StatusText { get { return CmLibrary.StatusString((int)status); } }
        /// <summary>HTTP status of the server answer behind the failure; 0 when there was none.</summary>
        public int HttpStatus { get { return httpStatus; } }
        /// <summary>Raw PC/SC (SCARD_*) code behind the failure; 0 when PC/SC was not involved.</summary>
        public uint PcscCode { get { return pcscCode; } }
        /// <summary>The message the server sent ("" when none).</summary>
        public string ServerMessage { get { return serverMessage; } }
        /// <summary>The correlation id of a 5xx answer ("" when none): give it to the CM administrator.</summary>
        public string CorrelationId { get { return correlationId; } }
        /// <summary>The C# method that failed, e.g. "CmApi.AssignSmartcard" or "CmSession.GetRequest".</summary>
        public string Function { get { return function; } }

        /// <summary>True for the PC/SC and card statuses (100-199).</summary>
        public bool IsCardError { get { int s = (int)status; return s >= 100 && s < 200; } }
        /// <summary>True for transport failures (200-299).</summary>
        public bool IsTransportError { get { int s = (int)status; return s >= 200 && s < 300; } }
        /// <summary>True for error answers of the server (300-399).</summary>
        public bool IsServerError { get { int s = (int)status; return s >= 300 && s < 400; } }
        /// <summary>True for authentication failures (400-499).</summary>
        public bool IsAuthError { get { int s = (int)status; return s >= 400 && s < 500; } }
        /// <summary>
        /// True when a state-changing call may or may not have taken effect; do not simply send it again. The way to
        /// learn it: ReconcileAssignment (AssignSmartcard), FindCreatedRequests (CreateRequest), GetRequest
        /// (SetRequestStatus), GetSmartcard (SetSmartcardStatus), GetSmartcardCertificates (SubmitCertificateRequests:
        /// certificate data cannot be fetched again).
        /// </summary>
        public bool OutcomeUnknown { get { return status == CmStatus.OutcomeUnknown; } }
        /// <summary>True when the server processed the request (AuthServerUnverified): never send it again.</summary>
        public bool ServerProcessed { get { return status == CmStatus.AuthServerUnverified; } }

        public override string ToString()
        {
            var sb = new StringBuilder();
            sb.Append(GetType().Name).Append(": ").Append(Status).Append(" (").Append((int)status).Append("): ").Append(Message);
            if (httpStatus != 0) sb.Append("; HTTP ").Append(httpStatus);
            if (pcscCode != 0) sb.Append("; PC/SC 0x").Append(pcscCode.ToString("X8"));
            if (serverMessage.Length != 0) sb.Append("; server: ").Append(serverMessage);
            if (correlationId.Length != 0) sb.Append("; correlation id ").Append(correlationId);
            if (StackTrace != null) sb.Append(Environment.NewLine).Append(StackTrace);
            return sb.ToString();
        }
    }

    /// <summary>
    /// The server processed an assignment (the card IS bound: see Result) but did not prove its identity
    /// (CmStatus.AuthServerUnverified: its final Negotiate token was missing or did not verify). Do NOT send the
    /// assignment again (it would fail with 403 "already bound"); use Result, and have the server's
    /// authentication set-up checked (SPN, IIS "Negotiate" provider, a proxy that strips headers).
    /// </summary>
    [Serializable]
    public class CmServerUnverifiedException : CmException
    {
        private readonly CmAssignResult result;

        public CmServerUnverifiedException(CmAssignResult result, string message, int httpStatus, string function)
            : base(CmStatus.AuthServerUnverified, message, httpStatus, 0, "", "", function)
        {
            this.result = result;
        }

#pragma warning disable
        /// <summary>Deserializes the exception with its result.</summary>
        protected CmServerUnverifiedException(SerializationInfo info, StreamingContext context)
            : base(info, context)
        {
            result = (CmAssignResult)info.GetValue("CmResult", typeof(CmAssignResult));
        }

        /// <summary>Serializes the exception with its result.</summary>
        [SecurityCritical]
        public override void GetObjectData(SerializationInfo info, StreamingContext context)
        {
            if (info == null) throw new ArgumentNullException("info");
            info.AddValue("CmResult", result, typeof(CmAssignResult));
            base.GetObjectData(info, context);
        }
#pragma warning restore

        /// <summary>The assignment as the server answered it (ServerVerified is false).</summary>
        public CmAssignResult Result { get { return result; } }
    }

    /// <summary>
    /// The server processed a state-changing call of the enrollment flow (CreateRequest, SetRequestStatus,
    /// SubmitCertificateRequests, SetSmartcardStatus) but did not prove its identity (CmStatus.AuthServerUnverified,
    /// with CmConnection.AuthFlags RequireMutualAuth). The change happened: do NOT send the call again. Result holds
    /// the answer (the new request's Guid, the CmRequestInfo, the CmCertificateData[] - returned only once - or the
    /// CmSmartcardInfo); have the server's authentication set-up checked.
    /// </summary>
    [Serializable]
    public class CmServerUnverifiedResultException : CmException
    {
        private readonly object result;

        public CmServerUnverifiedResultException(object result, string message, int httpStatus, string function)
            : base(CmStatus.AuthServerUnverified, message, httpStatus, 0, "", "", function)
        {
            this.result = result;
        }

#pragma warning disable
        /// <summary>Deserializes the exception with its result.</summary>
        protected CmServerUnverifiedResultException(SerializationInfo info, StreamingContext context)
            : base(info, context)
        {
            result = info.GetValue("CmResult", typeof(object));
        }

        /// <summary>Serializes the exception with its result.</summary>
        [SecurityCritical]
        public override void GetObjectData(SerializationInfo info, StreamingContext context)
        {
            if (info == null) throw new ArgumentNullException("info");
            info.AddValue("CmResult", result, typeof(object));
            base.GetObjectData(info, context);
        }
#pragma warning restore

        /// <summary>The call's answer, as the method would have returned it.</summary>
        public object Result { get { return result; } }

        internal static CmServerUnverifiedResultException For(CmException unverified, object result, string what)
        {
            return new CmServerUnverifiedResultException(result, unverified.Message + " The server processed the " + what
                + ": do not send it again (Result holds its answer).", unverified.HttpStatus, unverified.Function);
        }
    }

    /// <summary>How to reach and authenticate to the CM server (maps to struct cm_connection).</summary>
    public sealed class CmConnection
    {
        public CmConnection() { }
        public CmConnection(string serverUrl) { ServerUrl = serverUrl; }

        /// <summary>Server URL, e.g. https://cm.contoso.com/CertificateManagement. Required.</summary>
        public string ServerUrl { get; set; }
        /// <summary>Connect timeout in milliseconds; 0 = 10000.</summary>
        public uint ConnectTimeoutMs { get; set; }
        /// <summary>Timeout of one HTTP request in milliseconds; 0 = 30000.</summary>
        public uint TimeoutMs { get; set; }
        /// <summary>Cap on a response body in bytes; 0 = 1 MiB.</summary>
        public uint MaxResponseBytes { get; set; }
        /// <summary>PEM file with extra CA certificates; null or "" = none.</summary>
        public string ExtraCaFile { get; set; }
        /// <summary>Authentication method; default Negotiate as the current user.</summary>
        public CmAuthMethod AuthMethod { get; set; }
        /// <summary>Authentication flags.</summary>
        public CmAuthFlags AuthFlags { get; set; }
        /// <summary>User name for NegotiateExplicit, Ntlm and Basic (required for them).</summary>
        public string UserName { get; set; }
        /// <summary>Password as a string (SecurePassword takes precedence when set).</summary>
        public string Password { get; set; }
        /// <summary>Password as a SecureString (PowerShell's PSCredential.Password).</summary>
        public SecureString SecurePassword { get; set; }
        /// <summary>Token for Bearer (required for it).</summary>
        public string BearerToken { get; set; }
        /// <summary>Kerberos SPN override; null or "" = HTTP/host.</summary>
        public string Spn { get; set; }

        /// <summary>How the proxy is found; default System.</summary>
        public CmProxyMode ProxyMode { get; set; }
        /// <summary>CmProxyMode.Explicit: the proxy, "http://host:port" (required for Explicit).</summary>
        public string ProxyUrl { get; set; }
        /// <summary>CmProxyMode.Explicit: comma-separated hosts or domain suffixes reached directly.</summary>
        public string ProxyBypass { get; set; }
        /// <summary>User name for a proxy that answers 407; null = the current user (Negotiate/NTLM).</summary>
        public string ProxyUserName { get; set; }
        /// <summary>Proxy password as a string (SecureProxyPassword takes precedence when set).</summary>
        public string ProxyPassword { get; set; }
        /// <summary>Proxy password as a SecureString.</summary>
        public SecureString SecureProxyPassword { get; set; }
        /// <summary>CmSession: idle pooled connections kept; 0 = 4.</summary>
        public uint MaxIdleConnections { get; set; }
        /// <summary>CmSession: idle pooled connections older than this are closed (milliseconds); 0 = 30000.</summary>
        public uint IdleTimeoutMs { get; set; }

        /// <summary>Sets UserName and SecurePassword from a credential (DOMAIN\user when a domain is given).</summary>
        public void SetCredential(System.Net.NetworkCredential credential)
        {
            if (credential == null) throw new ArgumentNullException("credential");
            UserName = JoinDomain(credential);
            SecurePassword = credential.SecurePassword;
            Password = null;
        }

        /// <summary>Sets ProxyUserName and SecureProxyPassword from a credential.</summary>
        public void SetProxyCredential(System.Net.NetworkCredential credential)
        {
            if (credential == null) throw new ArgumentNullException("credential");
            ProxyUserName = JoinDomain(credential);
            SecureProxyPassword = credential.SecurePassword;
            ProxyPassword = null;
        }

        private static string JoinDomain(System.Net.NetworkCredential c)
        {
            return String.IsNullOrEmpty(c.Domain) ? c.UserName : c.Domain + "\\" + c.UserName;
        }

        public override string ToString()
        {
            return (ServerUrl ?? "") + " (" + AuthMethod + (String.IsNullOrEmpty(UserName) ? "" : ", " + UserName) + ")";
        }
    }

    /// <summary>What to bind: the CM request, the card id and the ATR (maps to struct cm_assignment).</summary>
    public sealed class CmAssignment
    {
        public CmAssignment() { }
        public CmAssignment(string requestId, string cardId, string atr)
        {
            RequestId = requestId; CardId = cardId; Atr = atr;
        }
        /// <summary>The CM request id (a GUID in any common form). Required.</summary>
        public string RequestId { get; set; }
        /// <summary>The minidriver card ID (a GUID in any common form). Required.</summary>
        public string CardId { get; set; }
        /// <summary>The ATR in hex, any common notation; null or "" omits it.</summary>
        public string Atr { get; set; }
    }

    /// <summary>The outcome of an assignment the server processed.</summary>
    [Serializable]
    public sealed class CmAssignResult
    {
        internal CmAssignResult(string requestId, string cardId, string atr, int httpStatus, string uri, string uuid, bool serverVerified)
        {
            RequestId = requestId; CardId = cardId; Atr = atr; HttpStatus = httpStatus; SmartcardUri = uri; SmartcardUuid = uuid;
            ServerVerified = serverVerified;
        }
        public string RequestId { get; private set; }
        public string CardId { get; private set; }
        public string Atr { get; private set; }
        /// <summary>201 (the body named the smartcard) or 204 (no body).</summary>
        public int HttpStatus { get; private set; }
        /// <summary>The smartcard URI as the server returned it ("" after 204).</summary>
        public string SmartcardUri { get; private set; }
        /// <summary>The new CM smartcard uuid, lowercase ("" after 204).</summary>
        public string SmartcardUuid { get; private set; }
        /// <summary>
        /// False when the server did not prove its identity (only on CmServerUnverifiedException.Result): the
        /// card is bound all the same; do not send the assignment again.
        /// </summary>
        public bool ServerVerified { get; private set; }
        public override string ToString() { return SmartcardUuid; }
    }

    /// <summary>The result of ReconcileAssignment.</summary>
    public sealed class CmReconcileResult
    {
        internal CmReconcileResult(string requestId, string cardId, CmBindingState state, string uuid)
        {
            RequestId = requestId; CardId = cardId; State = state; SmartcardUuid = uuid;
        }
        public string RequestId { get; private set; }
        public string CardId { get; private set; }
        public CmBindingState State { get; private set; }
        /// <summary>The smartcard bound to the request ("" when none).</summary>
        public string SmartcardUuid { get; private set; }
        public override string ToString() { return State.ToString(); }
    }

    /// <summary>A CM smartcard object (copied out of cm_smartcard / a smartcard cm_object).</summary>
    [Serializable]
    public sealed class CmSmartcardInfo
    {
        internal CmSmartcardInfo(CmObject o)
        {
            Uuid = Fields.Guid(o, "Uuid");
            SerialNumber = o.GetStringOrNull("SerialNumber") ?? "";
            Atr = o.GetStringOrNull("Atr") ?? "";
            Status = (CmSmartcardStatus)Fields.Int(o, "Status");
            StatusName = o.GetEnumNameOrNull("Status");
            ProfileTemplateUuid = Fields.Guid(o, "ProfileTemplateUuid");
            AssignedUserUuid = Fields.Guid(o, "AssignedUserUuid");
            Json = o.Json;
        }
        /// <summary>The CM smartcard uuid, lowercase.</summary>
        public string Uuid { get; private set; }
        /// <summary>SerialNumber as CM returned it (for Base CSP cards "{card id}").</summary>
        public string SerialNumber { get; private set; }
        public string Atr { get; private set; }
        /// <summary>Status as CM sent it; numbers without a name are kept ((CmSmartcardStatus)2); Missing (-1) when absent.</summary>
        public CmSmartcardStatus Status { get; private set; }
        /// <summary>The status name where the library knows the number, else null.</summary>
        public string StatusName { get; private set; }
        /// <summary>The card's profile template ("" when none).</summary>
        public string ProfileTemplateUuid { get; private set; }
        /// <summary>The user the card is assigned to ("" when none).</summary>
        public string AssignedUserUuid { get; private set; }
        /// <summary>The whole object as the server's JSON.</summary>
        public string Json { get; private set; }
        public override string ToString() { return Uuid; }
    }

    /// <summary>A CM request object (copied out of cm_request / a request cm_object).</summary>
    [Serializable]
    public sealed class CmRequestInfo
    {
        internal CmRequestInfo(CmObject o, string requestId)
        {
            Uuid = Fields.Guid(o, "Uuid");
            RequestId = String.IsNullOrEmpty(requestId) ? Uuid : requestId;
            RequestType = (CmRequestType)Fields.Int(o, "RequestType");
            RequestTypeName = o.GetEnumNameOrNull("RequestType");
            Status = (CmRequestStatus)Fields.Int(o, "Status");
            StatusName = o.GetEnumNameOrNull("Status");
            ProfileTemplateUuid = Fields.Guid(o, "ProfileTemplateUuid");
            TargetUserUuid = Fields.Guid(o, "TargetUserUuid");
            OriginatorUserUuid = Fields.Guid(o, "OriginatorUserUuid");
            NewSmartcardUuid = Fields.Guid(o, "NewSmartcardUuid");
            OldSmartcardUuid = Fields.Guid(o, "OldSmartcardUuid");
            NewProfileUuid = Fields.Guid(o, "NewProfileUuid");
            Priority = Fields.Int(o, "Priority");
            Comment = o.GetStringOrNull("Comment") ?? "";
            Submitted = o.GetStringOrNull("Submitted") ?? "";
            Json = o.Json;
        }
        /// <summary>The id the request was looked up with (as given), or its Uuid for listed requests.</summary>
        public string RequestId { get; private set; }
        /// <summary>The request's uuid as CM sent it, lowercase.</summary>
        public string Uuid { get; private set; }
        /// <summary>RequestType as CM sent it; numbers without a name are kept ((CmRequestType)4); Missing (-1) when absent.</summary>
        public CmRequestType RequestType { get; private set; }
        /// <summary>The type's name where the library knows the number (Enroll, Unblock), else null.</summary>
        public string RequestTypeName { get; private set; }
        /// <summary>Status as CM sent it (Approved 3, Completed 8; other numbers kept, e.g. (CmRequestStatus)1); Missing (-1) when absent.</summary>
        public CmRequestStatus Status { get; private set; }
        /// <summary>The status name where the library knows the number, else null.</summary>
        public string StatusName { get; private set; }
        public string ProfileTemplateUuid { get; private set; }
        public string TargetUserUuid { get; private set; }
        public string OriginatorUserUuid { get; private set; }
        /// <summary>The smartcard bound to the request, "" while none is.</summary>
        public string NewSmartcardUuid { get; private set; }
        /// <summary>The smartcard a non-Enroll request concerns ("" when none).</summary>
        public string OldSmartcardUuid { get; private set; }
        public string NewProfileUuid { get; private set; }
        /// <summary>-1 when absent.</summary>
        public int Priority { get; private set; }
        public string Comment { get; private set; }
        /// <summary>Submission time as CM wrote it (e.g. "2015-07-07T23:36:21.93Z").</summary>
        public string Submitted { get; private set; }
        /// <summary>The whole object as the server's JSON.</summary>
        public string Json { get; private set; }
        public override string ToString() { return RequestId; }
    }

    /// <summary>A PC/SC reader in a snapshot.</summary>
    public sealed class CmReader
    {
        internal CmReader(string name, bool cardPresent, string atr) { Name = name; CardPresent = cardPresent; Atr = atr; }
        public string Name { get; private set; }
        public bool CardPresent { get; private set; }
        /// <summary>The ATR of the card in the reader, "" when none.</summary>
        public string Atr { get; private set; }
        public override string ToString() { return Name; }
    }

    /// <summary>The structure of an ATR (cm_parse_atr).</summary>
    public sealed class CmAtrInfo
    {
        internal CmAtrInfo(NativeAtrInfo n)
        {
            Length = (int)n.length; Ts = (int)n.ts; ProtocolMask = n.protocol_mask;
            HistoricalBytes = new byte[Math.Min((int)n.historical_length, 15)];
            Array.Copy(n.historical_bytes, HistoricalBytes, HistoricalBytes.Length);
            TckRequired = n.tck_required != 0; TckPresent = n.tck_present != 0; TckValid = n.tck_valid != 0;
            WellFormed = n.well_formed != 0; ExpectedLength = (int)n.expected_length;
        }
        public int Length { get; private set; }
        public int Ts { get; private set; }
        /// <summary>Bit n set = T=n indicated.</summary>
        public uint ProtocolMask { get; private set; }
        public byte[] HistoricalBytes { get; private set; }
        public bool TckRequired { get; private set; }
        public bool TckPresent { get; private set; }
        public bool TckValid { get; private set; }
        public bool WellFormed { get; private set; }
        public int ExpectedLength { get; private set; }
    }

    /// <summary>One name/value pair of a request's data collection.</summary>
    public sealed class CmDataItem
    {
        public CmDataItem() { }
        public CmDataItem(string name, string value) { Name = name; Value = value; }
        /// <summary>The data item's name (PolicyDataCollection[].Name of the template's policy). Required.</summary>
        public string Name { get; set; }
        /// <summary>Its value; null sends JSON null.</summary>
        public string Value { get; set; }
        public override string ToString() { return Name + "=" + Value; }
    }

    /// <summary>
    /// What to create with CmSession.CreateRequest (POST /requests; maps to struct cm_request_spec). Enroll needs
    /// ProfileTemplateUuid; Unblock, Retire, Revoke, ... name the card with SmartcardUuid (the template is then
    /// taken from the card).
    /// </summary>
    public sealed class CmRequestSpec
    {
        private readonly List<CmDataItem> dataCollection = new List<CmDataItem>();

        public CmRequestSpec() { Priority = -1; }
        public CmRequestSpec(string type, string profileTemplateUuid) : this() { Type = type; ProfileTemplateUuid = profileTemplateUuid; }

        /// <summary>The request type by name, one of CmNames.RequestTypes (any case). Required.</summary>
        public string Type { get; set; }
        /// <summary>The profile template (a GUID); null or "" = not sent (then SmartcardUuid names the card).</summary>
        public string ProfileTemplateUuid { get; set; }
        /// <summary>The user the request is for; null or "" = the caller.</summary>
        public string TargetUserUuid { get; set; }
        /// <summary>The smart card a non-Enroll request concerns (its CM uuid); null or "" = none.</summary>
        public string SmartcardUuid { get; set; }
        /// <summary>The request's comment; null sends "".</summary>
        public string Comment { get; set; }
        /// <summary>The priority; a negative value (the default, -1) does not send it (the policy's default applies).</summary>
        public int Priority { get; set; }
        /// <summary>The data collection (may stay empty).</summary>
        public IList<CmDataItem> DataCollection { get { return dataCollection; } }

        /// <summary>Adds a data item; returns this spec (for chaining).</summary>
        public CmRequestSpec AddData(string name, string value)
        {
            dataCollection.Add(new CmDataItem(name, value));
            return this;
        }

        public override string ToString() { return (Type ?? "") + " " + (ProfileTemplateUuid ?? SmartcardUuid ?? ""); }
    }

    /// <summary>
    /// One JSON object of a CM answer (cm_object) with typed accessors by field name: the server's property name,
    /// matched case-insensitively. Getters throw CmException: FieldMissing (absent or null), FieldType (the field is
    /// not of that type), IndexOutOfRange; the ...OrNull variants return null for a missing field instead. Unknown
    /// fields and enum numbers never fail. Dispose frees the native object (a finalizer does it otherwise);
    /// every getter throws ObjectDisposedException afterwards. Not meant for concurrent use from several threads.
    /// </summary>
    public sealed class CmObject : IDisposable
    {
        private readonly CmObjectHandle handle;

        internal CmObject(CmObjectHandle handle) { this.handle = handle; }

        /// <summary>Frees the native object.</summary>
        public void Dispose() { handle.Dispose(); }

        /// <summary>True after Dispose.</summary>
        public bool IsClosed { get { return handle.IsClosed; } }

        private CmObjectHandle H(string method)
        {
            if (handle.IsClosed) throw new ObjectDisposedException("CmObject", method + ": the object has been disposed");
            return handle;
        }

        private static void Field(string field, string method)
        {
            if (field == null) throw new ArgumentNullException("field", method + ": field is null");
            if (field.Length == 0) throw new ArgumentException(method + ": field is empty", "field");
        }

        /// <summary>What the object is (Other for objects the library has no kind for).</summary>
        public CmObjectKind Kind { get { return (CmObjectKind)NativeMethods.cm_object_kind(H("CmObject.Kind")); } }

        /// <summary>The whole object as the server's JSON.</summary>
        public string Json
        {
            get
            {
                CmObjectHandle h = H("CmObject.Json");
                return CmLibrary.ReadString(delegate(byte[] b, UIntPtr l, out UIntPtr o) { return NativeMethods.cm_object_json(h, b, l, out o); }, "CmObject.Json");
            }
        }

        public override string ToString() { return IsClosed ? "(disposed)" : Json; }

        // Runs a string getter for field; returns null when the field is missing and orNull is set.
        private delegate int FieldStringGetter(CmObjectHandle h, IntPtr field, byte[] buf, UIntPtr bufLen, out UIntPtr lenOut);

        private string ReadField(FieldStringGetter getter, string field, bool orNull, string method)
        {
            Field(field, method);
            CmObjectHandle h = H(method);
            using (var s = new Utf8Strings())
            {
                IntPtr f = s.Add(field);
                string value;
                int rc = CmLibrary.TryReadString(delegate(byte[] b, UIntPtr l, out UIntPtr o) { return getter(h, f, b, l, out o); }, out value);
                if (rc == (int)CmStatus.FieldMissing && orNull) return null;
                if (rc != 0) throw CmLibrary.LastError(rc, method);
                return value;
            }
        }

        /// <summary>A field as text (numbers and bools rendered as text).</summary>
        public string GetString(string field) { return ReadField(NativeMethods.cm_object_get_string, field, false, "CmObject.GetString"); }
        /// <summary>A field as text, or null when absent or null.</summary>
        public string GetStringOrNull(string field) { return ReadField(NativeMethods.cm_object_get_string, field, true, "CmObject.GetStringOrNull"); }

        /// <summary>True when the object has the field with a non-null value.</summary>
        public bool HasField(string field)
        {
            const string M = "CmObject.HasField";
            Field(field, M);
            CmObjectHandle h = H(M);
            using (var s = new Utf8Strings())
            {
                UIntPtr len;
                int rc = NativeMethods.cm_object_get_string(h, s.Add(field), null, UIntPtr.Zero, out len);
                if (rc == (int)CmStatus.FieldMissing) return false;
                if (rc == 0 || rc == (int)CmStatus.BufferTooSmall || rc == (int)CmStatus.FieldType) return true;
                throw CmLibrary.LastError(rc, M);
            }
        }

        private long? ReadInt(string field, bool orNull, string method)
        {
            Field(field, method);
            CmObjectHandle h = H(method);
            using (var s = new Utf8Strings())
            {
                long v;
                int rc = NativeMethods.cm_object_get_int(h, s.Add(field), out v);
                if (rc == (int)CmStatus.FieldMissing && orNull) return null;
                CmLibrary.Check(rc, method);
                return v;
            }
        }

        /// <summary>A number (or numeric string) field. Enum fields give their number, known or not.</summary>
        public long GetInt64(string field) { return ReadInt(field, false, "CmObject.GetInt64").Value; }
        /// <summary>A number field, or null when absent or null.</summary>
        public long? GetInt64OrNull(string field) { return ReadInt(field, true, "CmObject.GetInt64OrNull"); }

        private bool? ReadBool(string field, bool orNull, string method)
        {
            Field(field, method);
            CmObjectHandle h = H(method);
            using (var s = new Utf8Strings())
            {
                int v;
                int rc = NativeMethods.cm_object_get_bool(h, s.Add(field), out v);
                if (rc == (int)CmStatus.FieldMissing && orNull) return null;
                CmLibrary.Check(rc, method);
                return v != 0;
            }
        }

        /// <summary>A boolean field (true/false, "True"/"false", 0/1).</summary>
        public bool GetBool(string field) { return ReadBool(field, false, "CmObject.GetBool").Value; }
        /// <summary>A boolean field, or null when absent or null.</summary>
        public bool? GetBoolOrNull(string field) { return ReadBool(field, true, "CmObject.GetBoolOrNull"); }

        /// <summary>A GUID field (braces and case as CM sent them do not matter).</summary>
        public Guid GetGuid(string field) { return new Guid(ReadField(NativeMethods.cm_object_get_guid, field, false, "CmObject.GetGuid")); }
        /// <summary>A GUID field, or null when absent or null.</summary>
        public Guid? GetGuidOrNull(string field)
        {
            string g = ReadField(NativeMethods.cm_object_get_guid, field, true, "CmObject.GetGuidOrNull");
            return g == null ? (Guid?)null : new Guid(g);
        }

        private byte[] ReadBytes(string field, bool orNull, string method)
        {
            Field(field, method);
            CmObjectHandle h = H(method);
            using (var s = new Utf8Strings())
            {
                IntPtr f = s.Add(field);
                byte[] value;
                int rc = CmLibrary.TryReadBytes(delegate(byte[] b, UIntPtr l, out UIntPtr o) { return NativeMethods.cm_object_get_bytes(h, f, b, l, out o); },
                    false, out value);
                if (rc == (int)CmStatus.FieldMissing && orNull) return null;
                if (rc != 0) throw CmLibrary.LastError(rc, method);
                return value;
            }
        }

        /// <summary>A base64 field, decoded (PKCS#7, PFX, ...).</summary>
        public byte[] GetBytes(string field) { return ReadBytes(field, false, "CmObject.GetBytes"); }
        /// <summary>A base64 field, decoded, or null when absent or null.</summary>
        public byte[] GetBytesOrNull(string field) { return ReadBytes(field, true, "CmObject.GetBytesOrNull"); }

        /// <summary>
        /// The name of an enum field (RequestType, Status) when the library knows its number (or CM sent a name); null
        /// for a number the library does not know (GetInt64 still gives it). Throws FieldMissing when absent.
        /// </summary>
        public string GetEnumName(string field) { return ReadEnumName(field, false, "CmObject.GetEnumName"); }
        /// <summary>As GetEnumName, but null also when the field is absent or null.</summary>
        public string GetEnumNameOrNull(string field) { return ReadEnumName(field, true, "CmObject.GetEnumNameOrNull"); }

        private string ReadEnumName(string field, bool orNull, string method)
        {
            Field(field, method);
            CmObjectHandle h = H(method);
            using (var s = new Utf8Strings())
            {
                IntPtr f = s.Add(field);
                string value;
                int rc = CmLibrary.TryReadString(delegate(byte[] b, UIntPtr l, out UIntPtr o) { return NativeMethods.cm_object_get_enum_name(h, f, b, l, out o); }, out value);
                if (rc == (int)CmStatus.EnumUnknown) return null;
                if (rc == (int)CmStatus.FieldMissing && orNull) return null;
                if (rc != 0) throw CmLibrary.LastError(rc, method);
                return value;
            }
        }

        /// <summary>The length of an array field.</summary>
        public int GetCount(string field)
        {
            const string M = "CmObject.GetCount";
            Field(field, M);
            CmObjectHandle h = H(M);
            using (var s = new Utf8Strings())
            {
                UIntPtr n;
                CmLibrary.Check(NativeMethods.cm_object_get_count(h, s.Add(field), out n), M);
                return checked((int)n.ToUInt64());
            }
        }

        private static void Index(int index, string method)
        {
            if (index < 0) throw new ArgumentOutOfRangeException("index", index, method + ": index is negative");
        }

        /// <summary>Element index of a string-array field (KeyStorageProviderNames, ProfileOperations, ...).</summary>
        public string GetStringAt(string field, int index)
        {
            const string M = "CmObject.GetStringAt";
            Field(field, M);
            Index(index, M);
            CmObjectHandle h = H(M);
            using (var s = new Utf8Strings())
            {
                IntPtr f = s.Add(field);
                UIntPtr i = new UIntPtr((uint)index);
                return CmLibrary.ReadString(delegate(byte[] b, UIntPtr l, out UIntPtr o) { return NativeMethods.cm_object_get_string_at(h, f, i, b, l, out o); }, M);
            }
        }

        /// <summary>Element index of an object-array field (DataCollection, PolicyDataCollection, ...): an owned copy.</summary>
        public CmObject GetObjectAt(string field, int index)
        {
            const string M = "CmObject.GetObjectAt";
            Field(field, M);
            Index(index, M);
            CmObjectHandle h = H(M);
            using (var s = new Utf8Strings())
            {
                CmObjectHandle item;
                int rc = NativeMethods.cm_object_get_object_at(h, s.Add(field), new UIntPtr((uint)index), out item);
                if (rc != 0) { CmException e = CmLibrary.LastError(rc, M); item.Dispose(); throw e; }
                return new CmObject(item);
            }
        }

        /// <summary>A string-array field as an array (empty when the field is absent or null).</summary>
        public string[] GetStringArray(string field)
        {
            if (!HasField(field)) return new string[0];
            int n = GetCount(field);
            var list = new string[n];
            for (int i = 0; i < n; i++) list[i] = GetStringAt(field, i);
            return list;
        }
    }

    /// <summary>
    /// An array answer of CM (cm_list), copied into CmObjects when it arrives. An empty list is a normal answer
    /// (CM's 204). Disposing the list disposes its objects.
    /// </summary>
    public sealed class CmList : IReadOnlyList<CmObject>, IDisposable
    {
        private readonly CmObject[] items;
        private readonly string json;

        internal CmList(CmObject[] items, string json) { this.items = items; this.json = json; }

        public int Count { get { return items.Length; } }
        public CmObject this[int index] { get { return items[index]; } }
        /// <summary>The whole array as the server's JSON ("[]" for an empty answer).</summary>
        public string Json { get { return json; } }
        public IEnumerator<CmObject> GetEnumerator() { return ((IEnumerable<CmObject>)items).GetEnumerator(); }
        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() { return items.GetEnumerator(); }
        public void Dispose() { foreach (CmObject o in items) o.Dispose(); }
        public override string ToString() { return items.Length + " objects"; }
    }

    /// <summary>A profile template (GET /profiletemplates).</summary>
    public sealed class CmProfileTemplateInfo
    {
        internal CmProfileTemplateInfo(CmObject o)
        {
            Uuid = Fields.Guid(o, "Uuid");
            Name = o.GetStringOrNull("Name") ?? "";
            Description = o.GetStringOrNull("Description") ?? "";
            IsSmartcardProfileTemplate = o.GetBoolOrNull("IsSmartcardProfileTemplate") ?? false;
            IsVirtualSmartcardProfileTemplate = o.GetBoolOrNull("IsVirtualSmartcardProfileTemplate") ?? false;
            Json = o.Json;
        }
        /// <summary>The template's uuid, lowercase ("" when CM sent none).</summary>
        public string Uuid { get; private set; }
        public string Name { get; private set; }
        public string Description { get; private set; }
        public bool IsSmartcardProfileTemplate { get; private set; }
        public bool IsVirtualSmartcardProfileTemplate { get; private set; }
        public string Json { get; private set; }
        public override string ToString() { return Name; }
    }

    /// <summary>One certificate request to build (GET /requests/{id}/certificaterequestgenerationoptions).</summary>
    public sealed class CmCsrOption
    {
        internal CmCsrOption(CmObject o)
        {
            Subject = o.GetStringOrNull("Subject") ?? "";
            KeyAlgorithmName = o.GetStringOrNull("KeyAlgorithmName") ?? "";
            KeySize = (int)(o.GetInt64OrNull("KeySize") ?? 0);
            FriendlyName = o.GetStringOrNull("FriendlyName") ?? "";
            HashAlgorithmName = o.GetStringOrNull("HashAlgorithmName") ?? "";
            KeyStorageProviderNames = o.GetStringArray("KeyStorageProviderNames");
            Exportable = (int)(o.GetInt64OrNull("Exportable") ?? 0);
            KeyProtectionLevel = (int)(o.GetInt64OrNull("KeyProtectionLevel") ?? 0);
            KeyUsages = (int)(o.GetInt64OrNull("KeyUsages") ?? 0);
            Json = o.Json;
        }
        /// <summary>The subject to request, as CM gives it (e.g. "CN=Jane Doe").</summary>
        public string Subject { get; private set; }
        /// <summary>E.g. "RSA".</summary>
        public string KeyAlgorithmName { get; private set; }
        /// <summary>Key size in bits (0 when not given).</summary>
        public int KeySize { get; private set; }
        public string FriendlyName { get; private set; }
        /// <summary>E.g. "SHA256".</summary>
        public string HashAlgorithmName { get; private set; }
        public string[] KeyStorageProviderNames { get; private set; }
        /// <summary>CM's number (CERT_... export policy).</summary>
        public int Exportable { get; private set; }
        /// <summary>CM's number (key protection level).</summary>
        public int KeyProtectionLevel { get; private set; }
        /// <summary>CM's key-usage number (X509KeyUsageFlags-like bits).</summary>
        public int KeyUsages { get; private set; }
        public string Json { get; private set; }
        public override string ToString() { return FriendlyName.Length > 0 ? FriendlyName : Subject; }
    }

    /// <summary>One certificate CM issued (POST /requests/{id}/certificatedata): PKCS#7 and/or PFX as bytes.</summary>
    [Serializable]
    public sealed class CmCertificateData
    {
        internal CmCertificateData(CmObject o)
        {
            TemplateCommonName = o.GetStringOrNull("TemplateCommonName") ?? "";
            CertificateId = o.GetStringOrNull("CertificateId") ?? "";
            Flags = o.GetInt64OrNull("Flags") ?? 0;
            UseLocalMachineStore = o.GetBoolOrNull("UseLocalMachineStore") ?? false;
            Error = o.GetStringOrNull("Error") ?? "";
            Pkcs7 = Fields.Bytes(o, "Pkcs7");
            Pfx = Fields.Bytes(o, "Pfx");
            IsExternal = o.GetBoolOrNull("IsExternal") ?? false;
            IsServerGenerated = o.GetBoolOrNull("IsServerGenerated") ?? false;
            IsPfx = o.GetBoolOrNull("IsPfx") ?? false;
            IsPkcs7 = o.GetBoolOrNull("IsPkcs7") ?? false;
            IsKeyHistory = o.GetBoolOrNull("IsKeyHistory") ?? false;
            Json = o.Json;
        }
        public string TemplateCommonName { get; private set; }
        public string CertificateId { get; private set; }
        public long Flags { get; private set; }
        public bool UseLocalMachineStore { get; private set; }
        /// <summary>CM's error text for this certificate ("" when none).</summary>
        public string Error { get; private set; }
        /// <summary>The PKCS#7 (certs-only SignedData: the certificate and its chain); empty when CM sent none.</summary>
        public byte[] Pkcs7 { get; private set; }
        /// <summary>The PKCS#12 with a server-generated key, encrypted under the PFX password; empty when none.</summary>
        public byte[] Pfx { get; private set; }
        public bool IsExternal { get; private set; }
        public bool IsServerGenerated { get; private set; }
        public bool IsPfx { get; private set; }
        public bool IsPkcs7 { get; private set; }
        public bool IsKeyHistory { get; private set; }
        /// <summary>The server's JSON (it includes the PFX as base64 when there is one).</summary>
        public string Json { get; private set; }
        public override string ToString() { return TemplateCommonName; }
    }

    /// <summary>Reading typed fields for the result classes (missing = a neutral value).</summary>
    internal static class Fields
    {
        /// <summary>A GUID field, lowercase hyphenated; "" when absent, null or all zeros.</summary>
        internal static string Guid(CmObject o, string field)
        {
            System.Guid? g = o.GetGuidOrNull(field);
            return g == null || g.Value == System.Guid.Empty ? "" : g.Value.ToString();
        }

        internal static byte[] Bytes(CmObject o, string field)
        {
            return o.GetBytesOrNull(field) ?? new byte[0];
        }

        internal static int Int(CmObject o, string field)
        {
            long? v = o.GetInt64OrNull(field);
            return v == null ? -1 : unchecked((int)v.Value);
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Handles (internal: the public API copies everything out of them)

    /// <summary>An owned cm_assign_result*; freed with cm_assign_result_free.</summary>
    internal sealed class CmAssignResultHandle : Microsoft.Win32.SafeHandles.SafeHandleZeroOrMinusOneIsInvalid
    {
        public CmAssignResultHandle() : base(true) { }
        protected override bool ReleaseHandle() { NativeMethods.cm_assign_result_free(handle); return true; }
    }

    /// <summary>An owned cm_smartcard*; freed with cm_smartcard_free.</summary>
    internal sealed class CmSmartcardHandle : Microsoft.Win32.SafeHandles.SafeHandleZeroOrMinusOneIsInvalid
    {
        public CmSmartcardHandle() : base(true) { }
        protected override bool ReleaseHandle() { NativeMethods.cm_smartcard_free(handle); return true; }
    }

    /// <summary>An owned cm_request*; freed with cm_request_free.</summary>
    internal sealed class CmRequestHandle : Microsoft.Win32.SafeHandles.SafeHandleZeroOrMinusOneIsInvalid
    {
        public CmRequestHandle() : base(true) { }
        protected override bool ReleaseHandle() { NativeMethods.cm_request_free(handle); return true; }
    }

    /// <summary>An owned cm_reader_list*; freed with cm_reader_list_free.</summary>
    internal sealed class CmReaderListHandle : Microsoft.Win32.SafeHandles.SafeHandleZeroOrMinusOneIsInvalid
    {
        public CmReaderListHandle() : base(true) { }
        protected override bool ReleaseHandle() { NativeMethods.cm_reader_list_free(handle); return true; }
    }

    /// <summary>An owned cm_object*; freed with cm_object_free (held by CmObject).</summary>
    internal sealed class CmObjectHandle : Microsoft.Win32.SafeHandles.SafeHandleZeroOrMinusOneIsInvalid
    {
        public CmObjectHandle() : base(true) { }
        protected override bool ReleaseHandle() { NativeMethods.cm_object_free(handle); return true; }
    }

    /// <summary>An owned cm_list*; freed with cm_list_free.</summary>
    internal sealed class CmListHandle : Microsoft.Win32.SafeHandles.SafeHandleZeroOrMinusOneIsInvalid
    {
        public CmListHandle() : base(true) { }
        protected override bool ReleaseHandle() { NativeMethods.cm_list_free(handle); return true; }
    }

    /// <summary>An owned cm_session*; freed with cm_session_free once no call uses it any more.</summary>
    internal sealed class CmSessionHandle : Microsoft.Win32.SafeHandles.SafeHandleZeroOrMinusOneIsInvalid
    {
        public CmSessionHandle() : base(true) { }
        protected override bool ReleaseHandle() { NativeMethods.cm_session_free(handle); return true; }
    }

    // ---------------------------------------------------------------------------------------------
    // Raw P/Invoke declarations, one per export of include/cm_smartcard.h (internal).

    // Fields of internal structs written only by the marshaller (or only read by it) are "never assigned" /
    // "never used" to a C# compiler; Add-Type on Windows PowerShell 5.1 treats such warnings as errors.
#pragma warning disable 169, 414, 649
    [StructLayout(LayoutKind.Sequential)]
    internal struct NativeConnection
    {
        public uint struct_size;
        public IntPtr server_url;
        public uint connect_timeout_ms;
        public uint timeout_ms;
        public uint max_response_bytes;
        public IntPtr extra_ca_file;
        public uint auth_method;
        public uint auth_flags;
        public IntPtr username;
        public IntPtr password;
        public IntPtr bearer_token;
        public IntPtr spn;
        public uint proxy_mode;
        public IntPtr proxy_url;
        public IntPtr proxy_bypass;
        public IntPtr proxy_username;
        public IntPtr proxy_password;
        public uint max_idle_connections;
        public uint idle_timeout_ms;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct NativeAssignment
    {
        public uint struct_size;
        public IntPtr request_id;
        public IntPtr card_id;
        public IntPtr atr;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct NativeAtrInfo
    {
        public uint struct_size;
        public uint length;
        public uint ts;
        public uint protocol_mask;
        public uint historical_length;
        [MarshalAs(UnmanagedType.ByValArray, SizeConst = 15)]
        public byte[] historical_bytes;
        public int tck_required;
        public int tck_present;
        public int tck_valid;
        public int well_formed;
        public uint expected_length;
    }
    [StructLayout(LayoutKind.Sequential)]
    internal struct NativeDataItem
    {
        public IntPtr name;
        public IntPtr value;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct NativeRequestSpec
    {
        public uint struct_size;
        public IntPtr request_type;
        public IntPtr profile_template_uuid;
        public IntPtr target_user_uuid;
        public IntPtr smartcard_uuid;
        public IntPtr comment;
        public int priority;
        public IntPtr data_collection;
        public UIntPtr data_collection_count;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct NativeBytes
    {
        public IntPtr data;
        public UIntPtr len;
    }
#pragma warning restore 169, 414, 649

    /// <summary>The C functions as declared in cm_smartcard.h.</summary>
    internal static class NativeMethods
    {
        public const string Library = "cm_smartcard";
        /// <summary>CM_ABI_VERSION of the header this binding was written against.</summary>
        public const uint AbiVersion = 1;
        /// <summary>CM_UUID_BUFFER_SIZE.</summary>
        public const int UuidBufferSize = 37;
        /// <summary>CM_ATR_BUFFER_SIZE.</summary>
        public const int AtrBufferSize = 67;
        /// <summary>CM_WAIT_INFINITE.</summary>
        public const uint WaitInfinite = 4294967295;

        // Version and status
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern IntPtr cm_version();
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern uint cm_abi_version();
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern IntPtr cm_status_str(int status);

        // Last error (per thread)
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int cm_last_error_status();
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int cm_last_error_message(byte[] buf, UIntPtr bufLen, out UIntPtr lenOut);
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int cm_last_error_http_status();
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern uint cm_last_error_pcsc_code();
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int cm_last_error_server_message(byte[] buf, UIntPtr bufLen, out UIntPtr lenOut);
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int cm_last_error_correlation_id(byte[] buf, UIntPtr bufLen, out UIntPtr lenOut);

        // Assignment
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int cm_assign_smartcard(ref NativeConnection connection, ref NativeAssignment assignment,
            out CmAssignResultHandle resultOut);
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int cm_assign_result_http_status(CmAssignResultHandle result);
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int cm_assign_result_smartcard_uri(CmAssignResultHandle result, byte[] buf, UIntPtr bufLen, out UIntPtr lenOut);
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int cm_assign_result_smartcard_uuid(CmAssignResultHandle result, byte[] buf, UIntPtr bufLen, out UIntPtr lenOut);
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int cm_assign_result_card_id(CmAssignResultHandle result, byte[] buf, UIntPtr bufLen, out UIntPtr lenOut);
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int cm_assign_result_atr(CmAssignResultHandle result, byte[] buf, UIntPtr bufLen, out UIntPtr lenOut);
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern void cm_assign_result_free(IntPtr result);
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int cm_reconcile_assignment(ref NativeConnection connection, ref NativeAssignment assignment,
            out int stateOut, byte[] uuidBuf, UIntPtr uuidBufLen, out UIntPtr uuidLenOut);

        // Lookups
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int cm_find_smartcard(ref NativeConnection connection, IntPtr cardId, out CmSmartcardHandle smartcardOut);
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int cm_get_smartcard(ref NativeConnection connection, IntPtr smartcardUuid, out CmSmartcardHandle smartcardOut);
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int cm_get_request(ref NativeConnection connection, IntPtr requestId, out CmRequestHandle requestOut);
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int cm_smartcard_uuid(CmSmartcardHandle smartcard, byte[] buf, UIntPtr bufLen, out UIntPtr lenOut);
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int cm_smartcard_serial_number(CmSmartcardHandle smartcard, byte[] buf, UIntPtr bufLen, out UIntPtr lenOut);
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int cm_smartcard_atr(CmSmartcardHandle smartcard, byte[] buf, UIntPtr bufLen, out UIntPtr lenOut);
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int cm_smartcard_json(CmSmartcardHandle smartcard, byte[] buf, UIntPtr bufLen, out UIntPtr lenOut);
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int cm_smartcard_status(CmSmartcardHandle smartcard);
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern void cm_smartcard_free(IntPtr smartcard);
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int cm_request_status(CmRequestHandle request);
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int cm_request_new_smartcard_uuid(CmRequestHandle request, byte[] buf, UIntPtr bufLen, out UIntPtr lenOut);
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int cm_request_json(CmRequestHandle request, byte[] buf, UIntPtr bufLen, out UIntPtr lenOut);
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern void cm_request_free(IntPtr request);

        // Sessions
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int cm_session_new(ref NativeConnection connection, out CmSessionHandle sessionOut);
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern void cm_session_free(IntPtr session);
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int cm_session_assign_smartcard(CmSessionHandle session, ref NativeAssignment assignment,
            out CmAssignResultHandle resultOut);
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int cm_session_assign_smartcard_from_reader(CmSessionHandle session, IntPtr requestId, IntPtr reader,
            uint byteOrder, out CmAssignResultHandle resultOut);
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int cm_session_reconcile_assignment(CmSessionHandle session, ref NativeAssignment assignment,
            out int stateOut, byte[] uuidBuf, UIntPtr uuidBufLen, out UIntPtr uuidLenOut);
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int cm_session_find_smartcard(CmSessionHandle session, IntPtr cardId, out CmSmartcardHandle smartcardOut);
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int cm_session_get_smartcard(CmSessionHandle session, IntPtr smartcardUuid, out CmSmartcardHandle smartcardOut);
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int cm_session_get_request(CmSessionHandle session, IntPtr requestId, out CmRequestHandle requestOut);

        // Card (PC/SC)
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int cm_read_card_atr(IntPtr reader, byte[] buf, UIntPtr bufLen, out UIntPtr lenOut);
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int cm_read_card_id(IntPtr reader, uint byteOrder, byte[] buf, UIntPtr bufLen, out UIntPtr lenOut);
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int cm_list_readers(out CmReaderListHandle listOut);
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern uint cm_reader_list_count(CmReaderListHandle list);
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int cm_reader_list_name(CmReaderListHandle list, uint index, byte[] buf, UIntPtr bufLen, out UIntPtr lenOut);
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int cm_reader_list_card_present(CmReaderListHandle list, uint index);
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int cm_reader_list_atr(CmReaderListHandle list, uint index, byte[] buf, UIntPtr bufLen, out UIntPtr lenOut);
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern void cm_reader_list_free(IntPtr list);
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int cm_wait_for_card(IntPtr reader, uint timeoutMs, byte[] buf, UIntPtr bufLen, out UIntPtr lenOut);
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern uint cm_cancel_waits();
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int cm_parse_atr(IntPtr atr, ref NativeAtrInfo infoOut);
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int cm_assign_smartcard_from_reader(ref NativeConnection connection, IntPtr requestId, IntPtr reader,
            uint byteOrder, out CmAssignResultHandle resultOut);

        // Objects and lists (issue 10)
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int cm_object_kind(CmObjectHandle obj);
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int cm_object_get_string(CmObjectHandle obj, IntPtr field, byte[] buf, UIntPtr bufLen, out UIntPtr lenOut);
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int cm_object_get_int(CmObjectHandle obj, IntPtr field, out long valueOut);
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int cm_object_get_bool(CmObjectHandle obj, IntPtr field, out int valueOut);
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int cm_object_get_guid(CmObjectHandle obj, IntPtr field, byte[] buf, UIntPtr bufLen, out UIntPtr lenOut);
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int cm_object_get_bytes(CmObjectHandle obj, IntPtr field, byte[] buf, UIntPtr bufLen, out UIntPtr lenOut);
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int cm_object_get_enum_name(CmObjectHandle obj, IntPtr field, byte[] buf, UIntPtr bufLen, out UIntPtr lenOut);
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int cm_object_get_count(CmObjectHandle obj, IntPtr field, out UIntPtr countOut);
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int cm_object_get_string_at(CmObjectHandle obj, IntPtr field, UIntPtr index, byte[] buf, UIntPtr bufLen, out UIntPtr lenOut);
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int cm_object_get_object_at(CmObjectHandle obj, IntPtr field, UIntPtr index, out CmObjectHandle objectOut);
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int cm_object_json(CmObjectHandle obj, byte[] buf, UIntPtr bufLen, out UIntPtr lenOut);
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern void cm_object_free(IntPtr obj);
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int cm_list_count(CmListHandle list, out UIntPtr countOut);
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int cm_list_get(CmListHandle list, UIntPtr index, out CmObjectHandle objectOut);
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int cm_list_get_string(CmListHandle list, UIntPtr index, byte[] buf, UIntPtr bufLen, out UIntPtr lenOut);
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int cm_list_json(CmListHandle list, byte[] buf, UIntPtr bufLen, out UIntPtr lenOut);
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern void cm_list_free(IntPtr list);
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int cm_request_to_object(CmRequestHandle request, out CmObjectHandle objectOut);
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int cm_smartcard_to_object(CmSmartcardHandle smartcard, out CmObjectHandle objectOut);

        // Enrollment flow on a session (issue 10)
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int cm_session_list_profile_templates(CmSessionHandle session, out CmListHandle listOut);
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int cm_session_get_profile_template_policy(CmSessionHandle session, IntPtr templateUuid, IntPtr type, out CmObjectHandle objectOut);
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int cm_session_get_smartcard_config(CmSessionHandle session, IntPtr templateUuid, out CmObjectHandle objectOut);
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int cm_session_create_request(CmSessionHandle session, ref NativeRequestSpec spec, out CmObjectHandle createdOut);
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int cm_session_find_created_requests(CmSessionHandle session, ref NativeRequestSpec spec, long submittedAfterUnix, out CmListHandle listOut);
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int cm_session_list_requests(CmSessionHandle session, IntPtr status, int mine, out CmListHandle listOut);
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int cm_session_set_request_status(CmSessionHandle session, IntPtr requestUuid, IntPtr status, out CmObjectHandle requestOut);
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int cm_session_get_csr_options(CmSessionHandle session, IntPtr requestUuid, out CmListHandle listOut);
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int cm_session_submit_certificate_requests(CmSessionHandle session, IntPtr requestUuid, IntPtr csrs, UIntPtr csrCount,
            IntPtr pfxPassword, IntPtr comments, out CmListHandle certificatesOut);
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int cm_session_get_admin_key(CmSessionHandle session, IntPtr requestUuid, IntPtr smartcardUuid, IntPtr cardId, IntPtr atr,
            byte[] keyBuf, UIntPtr keyBufLen, out UIntPtr keyLenOut);
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int cm_session_get_authentication_response(CmSessionHandle session, IntPtr requestUuid, IntPtr smartcardUuid, IntPtr cardId,
            IntPtr atr, byte[] challenge, UIntPtr challengeLen, int diversified, byte[] responseBuf, UIntPtr bufLen, out UIntPtr lenOut);
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int cm_session_get_server_proposed_pin(CmSessionHandle session, IntPtr requestUuid, IntPtr smartcardUuid, IntPtr cardId,
            IntPtr atr, byte[] pinBuf, UIntPtr bufLen, out UIntPtr lenOut);
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int cm_session_set_smartcard_status(CmSessionHandle session, IntPtr requestUuid, IntPtr smartcardUuid, IntPtr status,
            out CmObjectHandle smartcardOut);
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int cm_session_get_smartcard_operations(CmSessionHandle session, IntPtr smartcardUuid, out CmListHandle listOut);
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int cm_session_get_profile_operations(CmSessionHandle session, IntPtr profileUuid, out CmListHandle listOut);
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int cm_session_get_smartcard_certificates(CmSessionHandle session, IntPtr smartcardUuid, out CmListHandle listOut);
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int cm_session_get_profile_certificates(CmSessionHandle session, IntPtr profileUuid, out CmListHandle listOut);
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int cm_session_get_user_certificates(CmSessionHandle session, out CmListHandle listOut);
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int cm_session_list_profiles(CmSessionHandle session, IntPtr status, out CmListHandle listOut);
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int cm_session_get_profile(CmSessionHandle session, IntPtr profileUuid, out CmObjectHandle objectOut);
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int cm_session_list_request_profiles(CmSessionHandle session, IntPtr requestUuid, out CmListHandle listOut);
    }

    // ---------------------------------------------------------------------------------------------
    // Marshalling helpers

    /// <summary>NUL-terminated UTF-8 copies in unmanaged memory, wiped and freed on Dispose.</summary>
    internal sealed class Utf8Strings : IDisposable
    {
        private readonly List<KeyValuePair<IntPtr, int>> blocks = new List<KeyValuePair<IntPtr, int>>();

        /// <summary>A UTF-8 copy of s, or IntPtr.Zero for null.</summary>
        public IntPtr Add(string s)
        {
            if (s == null) return IntPtr.Zero;
            byte[] bytes = Encoding.UTF8.GetBytes(s);
            try { return AddBytes(bytes); }
            finally { Array.Clear(bytes, 0, bytes.Length); }
        }

        /// <summary>A UTF-8 copy of an optional string: IntPtr.Zero for null and "" (both mean "not given").</summary>
        public IntPtr AddOptional(string s)
        {
            return String.IsNullOrEmpty(s) ? IntPtr.Zero : Add(s);
        }

        /// <summary>A UTF-8 copy of a SecureString, or IntPtr.Zero for null; no managed string is made.</summary>
        public IntPtr Add(SecureString s)
        {
            if (s == null) return IntPtr.Zero;
            IntPtr bstr = IntPtr.Zero;
            char[] chars = new char[s.Length];
            byte[] bytes = null;
            try
            {
                bstr = Marshal.SecureStringToBSTR(s);
                Marshal.Copy(bstr, chars, 0, chars.Length);
                bytes = Encoding.UTF8.GetBytes(chars);
                return AddBytes(bytes);
            }
            finally
            {
                Array.Clear(chars, 0, chars.Length);
                if (bytes != null) Array.Clear(bytes, 0, bytes.Length);
                if (bstr != IntPtr.Zero) Marshal.ZeroFreeBSTR(bstr);
            }
        }

        /// <summary>A copy of raw bytes in unmanaged memory (no terminator); wiped and freed on Dispose.</summary>
        public IntPtr AddRaw(byte[] bytes)
        {
            int size = Math.Max(bytes.Length, 1);
            IntPtr p = Marshal.AllocHGlobal(size);
            blocks.Add(new KeyValuePair<IntPtr, int>(p, size));
            Marshal.Copy(bytes, 0, p, bytes.Length);
            return p;
        }

        /// <summary>A native array of structs (cm_data_item[], cm_bytes[]); wiped and freed on Dispose.</summary>
        public IntPtr AddArray<T>(T[] items) where T : struct
        {
            int each = Marshal.SizeOf(typeof(T));
            int size = Math.Max(each * items.Length, 1);
            IntPtr p = Marshal.AllocHGlobal(size);
            blocks.Add(new KeyValuePair<IntPtr, int>(p, size));
            for (int i = 0; i < items.Length; i++) Marshal.StructureToPtr(items[i], new IntPtr(p.ToInt64() + (long)i * each), false);
            return p;
        }

        private IntPtr AddBytes(byte[] bytes)
        {
            int size = bytes.Length + 1;
            IntPtr p = Marshal.AllocHGlobal(size);
            blocks.Add(new KeyValuePair<IntPtr, int>(p, size));
            Marshal.Copy(bytes, 0, p, bytes.Length);
            Marshal.WriteByte(p, bytes.Length, 0);
            return p;
        }

        public void Dispose()
        {
            foreach (var b in blocks)
            {
                for (int i = 0; i < b.Value; i++) Marshal.WriteByte(b.Key, i, 0);
                Marshal.FreeHGlobal(b.Key);
            }
            blocks.Clear();
        }
    }

    /// <summary>A string output function with the size-query pattern.</summary>
    internal delegate int CmStringGetter(byte[] buf, UIntPtr bufLen, out UIntPtr lenOut);

    /// <summary>Argument checks done in C# before any native call (ArgumentException family, parameter named).</summary>
    internal static class Args
    {
        /// <summary>A GUID as the library accepts it: 32 hex digits, hyphenated, in braces, or urn:uuid:.</summary>
        internal static bool IsGuid(string text)
        {
            string t = text.Trim();
            if (t.StartsWith("urn:uuid:", StringComparison.Ordinal)) t = t.Substring(9);
            else if (t.Length == 38 && t[0] == '{' && t[37] == '}') t = t.Substring(1, 36);
            if (t.Length == 32) return AllHex(t, -1);
            if (t.Length != 36) return false;
            for (int i = 0; i < 36; i++)
            {
                bool dash = i == 8 || i == 13 || i == 18 || i == 23;
                if (dash != (t[i] == '-')) return false;
            }
            return AllHex(t, '-');
        }

        private static bool AllHex(string t, int skip)
        {
            foreach (char c in t)
                if (c != skip && !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) return false;
            return true;
        }

        internal static string Printable(string text)
        {
            var sb = new StringBuilder();
            foreach (char c in text)
            {
                if (sb.Length == 64) { sb.Append("..."); break; }
                sb.Append(Char.IsControl(c) ? '?' : c);
            }
            return sb.ToString();
        }

        /// <summary>A required GUID parameter (what: "request id").</summary>
        internal static void Guid(string value, string paramName, string method, string what)
        {
            if (value == null) throw new ArgumentNullException(paramName, method + ": " + paramName + " is null");
            if (!IsGuid(value))
                throw new ArgumentException(method + ": " + what + " '" + Printable(value) + "' is not a GUID (expected 32 hex"
                    + " digits, e.g. a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099, optionally in braces or without hyphens)", paramName);
        }

        /// <summary>A GUID property of an object parameter (CmAssignment.RequestId).</summary>
        internal static void GuidProperty(string value, string paramName, string property, string method, string what)
        {
            if (value == null) throw new ArgumentException(method + ": " + paramName + "." + property + " is null", paramName);
            if (!IsGuid(value))
                throw new ArgumentException(method + ": " + paramName + "." + property + ": " + what + " '" + Printable(value)
                    + "' is not a GUID (expected 32 hex digits, e.g. a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099)", paramName);
        }

        internal static void Defined(Type enumType, object value, string paramName, string method)
        {
            if (!Enum.IsDefined(enumType, value))
                throw new ArgumentOutOfRangeException(paramName, value, method + ": " + Convert.ToUInt64(value) + " is not a "
                    + enumType.Name + " value (" + String.Join(", ", Enum.GetNames(enumType)) + ")");
        }

        internal static void Assignment(CmAssignment a, string method)
        {
            if (a == null) throw new ArgumentNullException("assignment", method + ": assignment is null");
            GuidProperty(a.RequestId, "assignment", "RequestId", method, "request id");
            GuidProperty(a.CardId, "assignment", "CardId", method, "card id");
        }

        /// <summary>A required name out of one of CmNames' lists; returns its documented spelling.</summary>
        internal static string Name(string value, string[] names, string paramName, string method, string what)
        {
            if (value == null) throw new ArgumentNullException(paramName, method + ": " + paramName + " is null");
            string found = CmNames.Find(names, value);
            if (found == null)
                throw new ArgumentException(method + ": '" + Printable(value) + "' is not a " + what + " (" + String.Join(", ", names) + ")", paramName);
            return found;
        }

        /// <summary>An optional name (null or "" = not given, returns null).</summary>
        internal static string OptionalName(string value, string[] names, string paramName, string method, string what)
        {
            return String.IsNullOrEmpty(value) ? null : Name(value, names, paramName, method, what);
        }

        /// <summary>An optional GUID parameter (null or "" = not given).</summary>
        internal static void OptionalGuid(string value, string paramName, string method, string what)
        {
            if (!String.IsNullOrEmpty(value)) Guid(value, paramName, method, what);
        }

        internal static void RequestSpec(CmRequestSpec spec, string method)
        {
            if (spec == null) throw new ArgumentNullException("spec", method + ": spec is null");
            if (spec.Type == null) throw new ArgumentException(method + ": spec.Type is null", "spec");
            if (CmNames.Find(CmNames.RequestTypes, spec.Type) == null)
                throw new ArgumentException(method + ": spec.Type '" + Printable(spec.Type) + "' is not a request type ("
                    + String.Join(", ", CmNames.RequestTypes) + ")", "spec");
            if (!String.IsNullOrEmpty(spec.ProfileTemplateUuid)) GuidProperty(spec.ProfileTemplateUuid, "spec", "ProfileTemplateUuid", method, "profile template uuid");
            if (!String.IsNullOrEmpty(spec.TargetUserUuid)) GuidProperty(spec.TargetUserUuid, "spec", "TargetUserUuid", method, "user uuid");
            if (!String.IsNullOrEmpty(spec.SmartcardUuid)) GuidProperty(spec.SmartcardUuid, "spec", "SmartcardUuid", method, "smartcard uuid");
            if (String.IsNullOrEmpty(spec.ProfileTemplateUuid) && String.IsNullOrEmpty(spec.SmartcardUuid))
                throw new ArgumentException(method + ": spec needs ProfileTemplateUuid (Enroll, ...) or SmartcardUuid (Unblock, Retire, ...)", "spec");
            for (int i = 0; i < spec.DataCollection.Count; i++)
            {
                CmDataItem d = spec.DataCollection[i];
                if (d == null || String.IsNullOrEmpty(d.Name))
                    throw new ArgumentException(method + ": spec.DataCollection[" + i + "] has no Name", "spec");
            }
        }

        /// <summary>Converts a validated spec; strings and the data-item array are owned by s.</summary>
        internal static NativeRequestSpec ToNative(CmRequestSpec spec, Utf8Strings s)
        {
            var n = new NativeRequestSpec();
            n.struct_size = (uint)Marshal.SizeOf(typeof(NativeRequestSpec));
            n.request_type = s.Add(CmNames.Find(CmNames.RequestTypes, spec.Type));
            n.profile_template_uuid = s.AddOptional(spec.ProfileTemplateUuid);
            n.target_user_uuid = s.AddOptional(spec.TargetUserUuid);
            n.smartcard_uuid = s.AddOptional(spec.SmartcardUuid);
            n.comment = s.Add(spec.Comment ?? "");
            n.priority = spec.Priority < 0 ? -1 : spec.Priority;
            var items = new NativeDataItem[spec.DataCollection.Count];
            for (int i = 0; i < items.Length; i++)
            {
                items[i].name = s.Add(spec.DataCollection[i].Name);
                items[i].value = s.Add(spec.DataCollection[i].Value);
            }
            n.data_collection = items.Length == 0 ? IntPtr.Zero : s.AddArray(items);
            n.data_collection_count = new UIntPtr((uint)items.Length);
            return n;
        }

        /// <summary>Everything about a connection that can be checked without the library.</summary>
        internal static void Connection(CmConnection c, string method)
        {
            if (c == null) throw new ArgumentNullException("connection", method + ": connection is null");
            if (String.IsNullOrEmpty(c.ServerUrl))
                throw new ArgumentException(method + ": connection.ServerUrl is required", "connection");
            if (!Enum.IsDefined(typeof(CmAuthMethod), c.AuthMethod))
                throw new ArgumentOutOfRangeException("connection", c.AuthMethod, method + ": connection.AuthMethod "
                    + (uint)c.AuthMethod + " is not a CmAuthMethod value");
            const CmAuthFlags known = CmAuthFlags.AllowInsecureHttp | CmAuthFlags.RequireMutualAuth;
            if ((c.AuthFlags & ~known) != 0)
                throw new ArgumentOutOfRangeException("connection", c.AuthFlags, method + ": connection.AuthFlags has unknown bits 0x"
                    + ((uint)(c.AuthFlags & ~known)).ToString("x"));
            if (!Enum.IsDefined(typeof(CmProxyMode), c.ProxyMode))
                throw new ArgumentOutOfRangeException("connection", c.ProxyMode, method + ": connection.ProxyMode "
                    + (uint)c.ProxyMode + " is not a CmProxyMode value");
            bool explicitUser = c.AuthMethod == CmAuthMethod.NegotiateExplicit || c.AuthMethod == CmAuthMethod.Ntlm
                || c.AuthMethod == CmAuthMethod.Basic;
            if (explicitUser && String.IsNullOrEmpty(c.UserName))
                throw new ArgumentException(method + ": connection.UserName is required for " + c.AuthMethod, "connection");
            if (c.AuthMethod == CmAuthMethod.Bearer && String.IsNullOrEmpty(c.BearerToken))
                throw new ArgumentException(method + ": connection.BearerToken is required for Bearer", "connection");
            if (c.ProxyMode == CmProxyMode.Explicit && String.IsNullOrEmpty(c.ProxyUrl))
                throw new ArgumentException(method + ": connection.ProxyUrl is required for CmProxyMode.Explicit", "connection");
        }

        /// <summary>Validates and converts a connection; strings are owned by s.</summary>
        internal static NativeConnection ToNative(CmConnection c, Utf8Strings s, string method)
        {
            Connection(c, method);
            CmLibrary.EnsureCompatible();
            var n = new NativeConnection();
            n.struct_size = (uint)Marshal.SizeOf(typeof(NativeConnection));
            n.server_url = s.Add(c.ServerUrl);
            n.connect_timeout_ms = c.ConnectTimeoutMs;
            n.timeout_ms = c.TimeoutMs;
            n.max_response_bytes = c.MaxResponseBytes;
            n.extra_ca_file = s.AddOptional(c.ExtraCaFile);
            n.auth_method = (uint)c.AuthMethod;
            n.auth_flags = (uint)c.AuthFlags;
            n.username = s.AddOptional(c.UserName);
            n.password = c.SecurePassword != null ? s.Add(c.SecurePassword) : s.AddOptional(c.Password);
            n.bearer_token = s.AddOptional(c.BearerToken);
            n.spn = s.AddOptional(c.Spn);
            n.proxy_mode = (uint)c.ProxyMode;
            n.proxy_url = s.AddOptional(c.ProxyUrl);
            n.proxy_bypass = s.AddOptional(c.ProxyBypass);
            n.proxy_username = s.AddOptional(c.ProxyUserName);
            n.proxy_password = c.SecureProxyPassword != null ? s.Add(c.SecureProxyPassword) : s.AddOptional(c.ProxyPassword);
            n.max_idle_connections = c.MaxIdleConnections;
            n.idle_timeout_ms = c.IdleTimeoutMs;
            return n;
        }

        internal static NativeAssignment ToNative(CmAssignment a, Utf8Strings s)
        {
            var n = new NativeAssignment();
            n.struct_size = (uint)Marshal.SizeOf(typeof(NativeAssignment));
            n.request_id = s.Add(a.RequestId);
            n.card_id = s.Add(a.CardId);
            n.atr = s.AddOptional(a.Atr);
            return n;
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Library-level functions

    /// <summary>Library information and loading.</summary>
    public static class CmLibrary
    {
        private static readonly object gate = new object();
        private static volatile bool checkedAbi;
        private static IntPtr preloaded = IntPtr.Zero;
        private static string preloadedPath;

        [DllImport("kernel32.dll", CharSet = CharSet.Unicode, SetLastError = true, EntryPoint = "LoadLibraryW")]
        private static extern IntPtr LoadLibraryW(string path);

        // dlopen lives in libdl.so.2 on every glibc (a stub since 2.34) and in libc on musl.
        [DllImport("libdl.so.2", EntryPoint = "dlopen")]
        private static extern IntPtr DlOpenLibdl(IntPtr file, int mode);
        [DllImport("libdl.so.2", EntryPoint = "dlerror")]
        private static extern IntPtr DlErrorLibdl();
        [DllImport("libc", EntryPoint = "dlopen")]
        private static extern IntPtr DlOpenLibc(IntPtr file, int mode);
        [DllImport("libc", EntryPoint = "dlerror")]
        private static extern IntPtr DlErrorLibc();

        /// <summary>The file name DllImport("cm_smartcard") probes for on this platform.</summary>
        private static string PlatformFileName
        {
            get { return IsMac ? "libcm_smartcard.dylib" : "libcm_smartcard.so"; }
        }

        private static bool IsMac { get { return System.IO.Directory.Exists("/System/Library/Frameworks"); } }

        /// <summary>
        /// Loads the native library from a full path so that later calls resolve to it, without PATH or
        /// LD_LIBRARY_PATH (DllImport does not search a script's folder). Windows: LoadLibraryW. Elsewhere:
        /// dlopen(RTLD_NOW | RTLD_GLOBAL); DllImport then finds the loaded library by its SONAME. Call once before
        /// anything else; later calls are ignored. Throws FileNotFoundException, DllNotFoundException.
        /// </summary>
        public static void Load(string fullPath)
        {
            if (fullPath == null) throw new ArgumentNullException("fullPath");
            if (fullPath.Length == 0) throw new ArgumentException("CmLibrary.Load: fullPath is empty", "fullPath");
            lock (gate)
            {
                if (preloaded != IntPtr.Zero) return;
                if (!System.IO.File.Exists(fullPath))
                    throw new System.IO.FileNotFoundException("cm-smartcard library not found", fullPath);
                IntPtr h = Environment.OSVersion.Platform == PlatformID.Win32NT ? LoadWindows(fullPath) : LoadUnix(fullPath);
                preloaded = h;
                preloadedPath = fullPath;
            }
        }

        private static IntPtr LoadWindows(string fullPath)
        {
            IntPtr h = LoadLibraryW(fullPath);
            if (h == IntPtr.Zero)
            {
                int err = Marshal.GetLastWin32Error();
                string hint = err == 193 ? " (wrong bitness: this process needs the " + (IntPtr.Size == 8 ? "x64" : "x86") + " DLL)"
                    : err == 126 ? " (a dependency is missing; Windows 10 or later is required)" : "";
                throw new DllNotFoundException("LoadLibrary(" + fullPath + ") failed with error " + err + hint);
            }
            return h;
        }

        private static IntPtr LoadUnix(string fullPath)
        {
            int now = 2, global = IsMac ? 8 : 0x100;
            string error;
            IntPtr h = DlOpen(System.IO.Path.GetFullPath(fullPath), now | global, out error);
            if (h == IntPtr.Zero) throw new DllNotFoundException("dlopen(" + fullPath + ") failed: " + error);
            return h;
        }

        private static IntPtr DlOpen(string path, int mode, out string error)
        {
            using (var s = new Utf8Strings())
            {
                IntPtr p = s.Add(path);
                IntPtr h, err;
                try
                {
                    h = DlOpenLibdl(p, mode);
                    err = h == IntPtr.Zero ? DlErrorLibdl() : IntPtr.Zero;
                }
                catch (DllNotFoundException)
                {
                    h = DlOpenLibc(p, mode);
                    err = h == IntPtr.Zero ? DlErrorLibc() : IntPtr.Zero;
                }
                error = PtrToUtf8(err) ?? "";
                return h;
            }
        }

        /// <summary>The path given to Load, or null when the library was found by the runtime's own search.</summary>
        public static string LoadedPath { get { return preloadedPath; } }

        /// <summary>The library version, "MAJOR.MINOR.PATCH".</summary>
        public static string Version { get { return PtrToUtf8(NativeMethods.cm_version()); } }

        /// <summary>The ABI version the loaded library implements.</summary>
        public static uint AbiVersion { get { return NativeMethods.cm_abi_version(); } }

        /// <summary>Throws unless the loaded library implements the ABI this binding was written for.</summary>
        public static void EnsureCompatible()
        {
            if (checkedAbi) return;
            uint abi;
            try { abi = NativeMethods.cm_abi_version(); }
            catch (DllNotFoundException e)
            {
                if (preloadedPath == null || Environment.OSVersion.Platform == PlatformID.Win32NT) throw;
                throw new DllNotFoundException("'" + preloadedPath + "' was loaded, but DllImport cannot find it by the name "
                    + PlatformFileName + ": the library lacks that SONAME (build it with the project's build.rs), or set "
                    + "LD_LIBRARY_PATH to its folder. " + e.Message, e);
            }
            if (abi != NativeMethods.AbiVersion)
                throw new InvalidOperationException("cm-smartcard library ABI " + abi + " does not match the binding's ABI "
                    + NativeMethods.AbiVersion + "; use CmSmartcard.cs from the same release as the library");
            checkedAbi = true;
        }

        /// <summary>The short static description of any status code.</summary>
        public static string StatusString(int status) { return PtrToUtf8(NativeMethods.cm_status_str(status)); }

        /// <summary>The short static description of a status.</summary>
        public static string StatusString(CmStatus status) { return StatusString((int)status); }

        /// <summary>Reads a size-query string output; throws CmException on failure.</summary>
        internal static string ReadString(CmStringGetter getter, string method)
        {
            string s;
            int rc = TryReadString(getter, out s);
            if (rc != 0) throw LastError(rc, method);
            return s;
        }

        /// <summary>Reads a size-query string output; returns the status (0 on success).</summary>
        internal static int TryReadString(CmStringGetter getter, out string value)
        {
            byte[] buf = new byte[128];
            for (int attempt = 0; attempt < 4; attempt++)
            {
                UIntPtr len;
                int rc = getter(buf, new UIntPtr((uint)buf.Length), out len);
                ulong n = len.ToUInt64();
                if (rc == 0)
                {
                    value = Encoding.UTF8.GetString(buf, 0, (int)n);
                    return 0;
                }
                if (rc != (int)CmStatus.BufferTooSmall || n >= int.MaxValue) { value = null; return rc; }
                buf = new byte[(int)n + 1];
            }
            value = null;
            return (int)CmStatus.BufferTooSmall;
        }

        /// <summary>
        /// Reads a size-query byte output; returns the status (0 on success). secret: every buffer but the returned
        /// one is cleared (admin keys, PINs); the caller clears the result.
        /// </summary>
        internal static int TryReadBytes(CmStringGetter getter, bool secret, out byte[] value)
        {
            byte[] buf = new byte[256];
            try
            {
                for (int attempt = 0; attempt < 4; attempt++)
                {
                    UIntPtr len;
                    int rc = getter(buf, new UIntPtr((uint)buf.Length), out len);
                    ulong n = len.ToUInt64();
                    if (rc == 0)
                    {
                        value = new byte[(int)n];
                        Array.Copy(buf, value, (int)n);
                        return 0;
                    }
                    if (rc != (int)CmStatus.BufferTooSmall || n >= int.MaxValue) { value = null; return rc; }
                    if (secret) Array.Clear(buf, 0, buf.Length);
                    buf = new byte[(int)n];
                }
                value = null;
                return (int)CmStatus.BufferTooSmall;
            }
            finally
            {
                if (secret) Array.Clear(buf, 0, buf.Length);
            }
        }

        /// <summary>Builds the exception for a failing call from this thread's last error. Call right after it.</summary>
        internal static CmException LastError(int status, string method)
        {
            string message, serverMessage, correlationId;
            if (TryReadString(NativeMethods.cm_last_error_message, out message) != 0 || String.IsNullOrEmpty(message))
                message = StatusString(status);
            if (TryReadString(NativeMethods.cm_last_error_server_message, out serverMessage) != 0) serverMessage = "";
            if (TryReadString(NativeMethods.cm_last_error_correlation_id, out correlationId) != 0) correlationId = "";
            int http = NativeMethods.cm_last_error_http_status();
            uint pcsc = NativeMethods.cm_last_error_pcsc_code();
            return new CmException((CmStatus)status, method + ": " + CSharpNames(message, method), http, pcsc, serverMessage,
                correlationId, method);
        }

        // The library's advice names its C functions ("check with cm_reconcile_assignment()"); C# callers get
        // the methods of the class they called (CmApi.ReconcileAssignment() / CmSession.ReconcileAssignment()).
        private static readonly System.Text.RegularExpressions.Regex CFunction =
            new System.Text.RegularExpressions.Regex("\\bcm_(?:session_)?([a-z0-9_]+)\\(\\)");

        internal static string CSharpNames(string message, string method)
        {
            string cls = method.StartsWith("CmSession") || method == "new CmSession" ? "CmSession" : "CmApi";
            return CFunction.Replace(message, delegate(System.Text.RegularExpressions.Match m)
            {
                var sb = new StringBuilder(cls).Append('.');
                foreach (string part in m.Groups[1].Value.Split('_'))
                    if (part.Length > 0) sb.Append(Char.ToUpperInvariant(part[0])).Append(part.Substring(1));
                return sb.Append("()").ToString();
            });
        }

        /// <summary>Throws the CmException for status unless it is Ok.</summary>
        internal static void Check(int status, string method)
        {
            if (status != 0) throw LastError(status, method);
        }

        internal static string PtrToUtf8(IntPtr p)
        {
            if (p == IntPtr.Zero) return null;
            int n = 0;
            while (Marshal.ReadByte(p, n) != 0) n++;
            byte[] bytes = new byte[n];
            Marshal.Copy(p, bytes, 0, n);
            return Encoding.UTF8.GetString(bytes);
        }
    }

    // ---------------------------------------------------------------------------------------------
    // The network operations, shared by CmApi (one-shot: a cm_connection per call) and CmSession.

    internal abstract class CmTarget
    {
        internal abstract int Assign(ref NativeAssignment a, out CmAssignResultHandle h);
        internal abstract int AssignFromReader(IntPtr requestId, IntPtr reader, uint byteOrder, out CmAssignResultHandle h);
        internal abstract int Reconcile(ref NativeAssignment a, out int state, byte[] buf, UIntPtr bufLen, out UIntPtr lenOut);
        internal abstract int FindSmartcard(IntPtr cardId, out CmSmartcardHandle h);
        internal abstract int GetSmartcard(IntPtr smartcardUuid, out CmSmartcardHandle h);
        internal abstract int GetRequest(IntPtr requestId, out CmRequestHandle h);
    }

    internal sealed class ConnectionTarget : CmTarget
    {
        private NativeConnection conn; // its strings belong to the caller's Utf8Strings
        internal ConnectionTarget(NativeConnection conn) { this.conn = conn; }
        internal override int Assign(ref NativeAssignment a, out CmAssignResultHandle h)
        { return NativeMethods.cm_assign_smartcard(ref conn, ref a, out h); }
        internal override int AssignFromReader(IntPtr requestId, IntPtr reader, uint byteOrder, out CmAssignResultHandle h)
        { return NativeMethods.cm_assign_smartcard_from_reader(ref conn, requestId, reader, byteOrder, out h); }
        internal override int Reconcile(ref NativeAssignment a, out int state, byte[] buf, UIntPtr bufLen, out UIntPtr lenOut)
        { return NativeMethods.cm_reconcile_assignment(ref conn, ref a, out state, buf, bufLen, out lenOut); }
        internal override int FindSmartcard(IntPtr cardId, out CmSmartcardHandle h)
        { return NativeMethods.cm_find_smartcard(ref conn, cardId, out h); }
        internal override int GetSmartcard(IntPtr smartcardUuid, out CmSmartcardHandle h)
        { return NativeMethods.cm_get_smartcard(ref conn, smartcardUuid, out h); }
        internal override int GetRequest(IntPtr requestId, out CmRequestHandle h)
        { return NativeMethods.cm_get_request(ref conn, requestId, out h); }
    }

    internal sealed class SessionTarget : CmTarget
    {
        private readonly CmSessionHandle session;
        internal SessionTarget(CmSessionHandle session) { this.session = session; }
        internal override int Assign(ref NativeAssignment a, out CmAssignResultHandle h)
        { return NativeMethods.cm_session_assign_smartcard(session, ref a, out h); }
        internal override int AssignFromReader(IntPtr requestId, IntPtr reader, uint byteOrder, out CmAssignResultHandle h)
        { return NativeMethods.cm_session_assign_smartcard_from_reader(session, requestId, reader, byteOrder, out h); }
        internal override int Reconcile(ref NativeAssignment a, out int state, byte[] buf, UIntPtr bufLen, out UIntPtr lenOut)
        { return NativeMethods.cm_session_reconcile_assignment(session, ref a, out state, buf, bufLen, out lenOut); }
        internal override int FindSmartcard(IntPtr cardId, out CmSmartcardHandle h)
        { return NativeMethods.cm_session_find_smartcard(session, cardId, out h); }
        internal override int GetSmartcard(IntPtr smartcardUuid, out CmSmartcardHandle h)
        { return NativeMethods.cm_session_get_smartcard(session, smartcardUuid, out h); }
        internal override int GetRequest(IntPtr requestId, out CmRequestHandle h)
        { return NativeMethods.cm_session_get_request(session, requestId, out h); }
    }

    /// <summary>The operations over a target; arguments are validated by the public methods.</summary>
    internal static class Ops
    {
        internal static CmAssignResult Assign(CmTarget t, CmAssignment a, Utf8Strings s, string method)
        {
            NativeAssignment n = Args.ToNative(a, s);
            CmAssignResultHandle h;
            int rc = t.Assign(ref n, out h);
            return FinishAssign(rc, h, a.RequestId, method);
        }

        internal static CmAssignResult AssignFromReader(CmTarget t, string requestId, string reader, CmGuidOrder byteOrder,
            Utf8Strings s, string method)
        {
            CmAssignResultHandle h;
            int rc = t.AssignFromReader(s.Add(requestId), s.AddOptional(reader), (uint)byteOrder, out h);
            return FinishAssign(rc, h, requestId, method);
        }

        // AuthServerUnverified is the one failure with a filled result: the server processed the assignment.
        private static CmAssignResult FinishAssign(int rc, CmAssignResultHandle h, string requestId, string method)
        {
            using (h)
            {
                if (rc == (int)CmStatus.AuthServerUnverified && h != null && !h.IsInvalid)
                {
                    CmException e = CmLibrary.LastError(rc, method);
                    CmAssignResult unverified = ToAssignResult(h, requestId, method, false);
                    throw new CmServerUnverifiedException(unverified, e.Message + " The server processed the assignment"
                        + " (the card is bound): do not send it again.", e.HttpStatus, method);
                }
                CmLibrary.Check(rc, method);
                return ToAssignResult(h, requestId, method, true);
            }
        }

        private static CmAssignResult ToAssignResult(CmAssignResultHandle h, string requestId, string method, bool verified)
        {
            int http = NativeMethods.cm_assign_result_http_status(h);
            string uri = CmLibrary.ReadString(delegate(byte[] b, UIntPtr l, out UIntPtr o)
                { return NativeMethods.cm_assign_result_smartcard_uri(h, b, l, out o); }, method);
            string uuid = CmLibrary.ReadString(delegate(byte[] b, UIntPtr l, out UIntPtr o)
                { return NativeMethods.cm_assign_result_smartcard_uuid(h, b, l, out o); }, method);
            string card = CmLibrary.ReadString(delegate(byte[] b, UIntPtr l, out UIntPtr o)
                { return NativeMethods.cm_assign_result_card_id(h, b, l, out o); }, method);
            string atr = CmLibrary.ReadString(delegate(byte[] b, UIntPtr l, out UIntPtr o)
                { return NativeMethods.cm_assign_result_atr(h, b, l, out o); }, method);
            return new CmAssignResult(requestId, card, atr, http, uri, uuid, verified);
        }

        internal static CmReconcileResult Reconcile(CmTarget t, CmAssignment a, Utf8Strings s, string method)
        {
            NativeAssignment n = Args.ToNative(a, s);
            byte[] buf = new byte[NativeMethods.UuidBufferSize];
            int state;
            UIntPtr len;
            int rc = t.Reconcile(ref n, out state, buf, new UIntPtr((uint)buf.Length), out len);
            CmLibrary.Check(rc, method);
            string uuid = Encoding.UTF8.GetString(buf, 0, (int)len.ToUInt64());
            return new CmReconcileResult(a.RequestId, a.CardId, (CmBindingState)state, uuid);
        }

        internal static CmSmartcardInfo FindSmartcard(CmTarget t, string cardId, Utf8Strings s, string method)
        {
            CmSmartcardHandle h;
            int rc = t.FindSmartcard(s.Add(cardId), out h);
            return ToSmartcard(rc, h, method);
        }

        internal static CmSmartcardInfo GetSmartcard(CmTarget t, string smartcardUuid, Utf8Strings s, string method)
        {
            CmSmartcardHandle h;
            int rc = t.GetSmartcard(s.Add(smartcardUuid), out h);
            return ToSmartcard(rc, h, method);
        }

        internal static CmRequestInfo GetRequest(CmTarget t, string requestId, Utf8Strings s, string method)
        {
            CmRequestHandle h;
            int rc = t.GetRequest(s.Add(requestId), out h);
            using (h)
            {
                CmLibrary.Check(rc, method);
                if (h.IsInvalid) return null;
                CmObjectHandle oh;
                rc = NativeMethods.cm_request_to_object(h, out oh);
                using (CmObject o = Results.Object(rc, oh, method)) return new CmRequestInfo(o, requestId);
            }
        }

        private static CmSmartcardInfo ToSmartcard(int rc, CmSmartcardHandle h, string method)
        {
            using (h)
            {
                CmLibrary.Check(rc, method);
                if (h.IsInvalid) return null;
                CmObjectHandle oh;
                rc = NativeMethods.cm_smartcard_to_object(h, out oh);
                using (CmObject o = Results.Object(rc, oh, method)) return new CmSmartcardInfo(o);
            }
        }
    }

    /// <summary>Turns the cm_object / cm_list answers of the library into CmObject, CmList and result classes.</summary>
    internal static class Results
    {
        /// <summary>The object of a call (null when CM answered 204: no such object); throws on failure.</summary>
        internal static CmObject Object(int rc, CmObjectHandle h, string method)
        {
            if (rc != 0)
            {
                CmException e = CmLibrary.LastError(rc, method);
                h.Dispose();
                throw e;
            }
            if (h.IsInvalid) { h.Dispose(); return null; }
            return new CmObject(h);
        }

        /// <summary>
        /// As Object, for state-changing calls: AuthServerUnverified with a filled answer (the server processed the
        /// call) returns the answer and sets unverified, for the caller to throw with the converted result.
        /// </summary>
        internal static CmObject Processed(int rc, CmObjectHandle h, string method, out CmException unverified)
        {
            unverified = null;
            if (rc == (int)CmStatus.AuthServerUnverified && !h.IsInvalid)
            {
                unverified = CmLibrary.LastError(rc, method);
                return new CmObject(h);
            }
            return Object(rc, h, method);
        }

        /// <summary>As Processed, for a list answer.</summary>
        internal static CmList ProcessedList(int rc, CmListHandle h, string method, out CmException unverified)
        {
            unverified = null;
            if (rc == (int)CmStatus.AuthServerUnverified && !h.IsInvalid)
            {
                unverified = CmLibrary.LastError(rc, method);
                rc = 0;
            }
            return List(rc, h, method);
        }

        /// <summary>The objects of a list answer (empty for 204); throws on failure.</summary>
        internal static CmList List(int rc, CmListHandle h, string method)
        {
            using (h)
            {
                CmLibrary.Check(rc, method);
                if (h.IsInvalid) return new CmList(new CmObject[0], "[]");
                UIntPtr n;
                CmLibrary.Check(NativeMethods.cm_list_count(h, out n), method);
                var items = new CmObject[checked((int)n.ToUInt64())];
                try
                {
                    for (int i = 0; i < items.Length; i++)
                    {
                        CmObjectHandle oh;
                        int r = NativeMethods.cm_list_get(h, new UIntPtr((uint)i), out oh);
                        items[i] = Object(r, oh, method);
                    }
                    string json = CmLibrary.ReadString(delegate(byte[] b, UIntPtr l, out UIntPtr o) { return NativeMethods.cm_list_json(h, b, l, out o); }, method);
                    return new CmList(items, json);
                }
                catch
                {
                    foreach (CmObject o in items) if (o != null) o.Dispose();
                    throw;
                }
            }
        }

        /// <summary>The strings of a string-array answer (operations); empty for 204.</summary>
        internal static string[] Strings(int rc, CmListHandle h, string method)
        {
            using (h)
            {
                CmLibrary.Check(rc, method);
                if (h.IsInvalid) return new string[0];
                UIntPtr n;
                CmLibrary.Check(NativeMethods.cm_list_count(h, out n), method);
                var items = new string[checked((int)n.ToUInt64())];
                for (int i = 0; i < items.Length; i++)
                {
                    UIntPtr k = new UIntPtr((uint)i);
                    items[i] = CmLibrary.ReadString(delegate(byte[] b, UIntPtr l, out UIntPtr o) { return NativeMethods.cm_list_get_string(h, k, b, l, out o); }, method);
                }
                return items;
            }
        }

        internal delegate T Convert<T>(CmObject o);

        /// <summary>Copies each object of a list answer into a result class and frees the list.</summary>
        internal static T[] Map<T>(int rc, CmListHandle h, string method, Convert<T> convert)
        {
            using (CmList list = List(rc, h, method))
            {
                var result = new T[list.Count];
                for (int i = 0; i < result.Length; i++) result[i] = convert(list[i]);
                return result;
            }
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Idiomatic API

    /// <summary>
    /// The cm-smartcard operations, one call at a time (each network call opens its own connection; for many
    /// calls use a CmSession). Invalid arguments throw ArgumentException (or ArgumentNullException /
    /// ArgumentOutOfRangeException) before anything is sent; failures throw CmException.
    /// </summary>
    public static class CmApi
    {
        /// <summary>
        /// Binds a card to a CM request (POST /smartcards). The POST is sent at most once: on
        /// CmStatus.OutcomeUnknown call ReconcileAssignment before trying again. CmServerUnverifiedException
        /// (status AuthServerUnverified) means the card IS bound but the server did not prove its identity:
        /// its Result holds the answer; do not send the assignment again.
        /// </summary>
        public static CmAssignResult AssignSmartcard(CmConnection connection, CmAssignment assignment)
        {
            const string M = "CmApi.AssignSmartcard";
            Args.Connection(connection, M);
            Args.Assignment(assignment, M);
            using (var s = new Utf8Strings())
                return Ops.Assign(new ConnectionTarget(Args.ToNative(connection, s, M)), assignment, s, M);
        }

        /// <summary>Binds a card to a CM request; see AssignSmartcard(CmConnection, CmAssignment). atr: null or "" omits it.</summary>
        public static CmAssignResult AssignSmartcard(CmConnection connection, string requestId, string cardId, string atr)
        {
            const string M = "CmApi.AssignSmartcard";
            Args.Connection(connection, M);
            Args.Guid(requestId, "requestId", M, "request id");
            Args.Guid(cardId, "cardId", M, "card id");
            return AssignSmartcard(connection, new CmAssignment(requestId, cardId, atr));
        }

        /// <summary>Learns whether an assignment took effect (only GETs are sent).</summary>
        public static CmReconcileResult ReconcileAssignment(CmConnection connection, CmAssignment assignment)
        {
            const string M = "CmApi.ReconcileAssignment";
            Args.Connection(connection, M);
            Args.Assignment(assignment, M);
            using (var s = new Utf8Strings())
                return Ops.Reconcile(new ConnectionTarget(Args.ToNative(connection, s, M)), assignment, s, M);
        }

        /// <summary>Learns whether an assignment took effect; see ReconcileAssignment(CmConnection, CmAssignment).</summary>
        public static CmReconcileResult ReconcileAssignment(CmConnection connection, string requestId, string cardId)
        {
            const string M = "CmApi.ReconcileAssignment";
            Args.Connection(connection, M);
            Args.Guid(requestId, "requestId", M, "request id");
            Args.Guid(cardId, "cardId", M, "card id");
            return ReconcileAssignment(connection, new CmAssignment(requestId, cardId, null));
        }

        /// <summary>The smartcard CM holds for a card id, or null when it has none.</summary>
        public static CmSmartcardInfo FindSmartcard(CmConnection connection, string cardId)
        {
            const string M = "CmApi.FindSmartcard";
            Args.Connection(connection, M);
            Args.Guid(cardId, "cardId", M, "card id");
            using (var s = new Utf8Strings())
                return Ops.FindSmartcard(new ConnectionTarget(Args.ToNative(connection, s, M)), cardId, s, M);
        }

        /// <summary>A smartcard by its CM uuid, or null when CM does not know it.</summary>
        public static CmSmartcardInfo GetSmartcard(CmConnection connection, string smartcardUuid)
        {
            const string M = "CmApi.GetSmartcard";
            Args.Connection(connection, M);
            Args.Guid(smartcardUuid, "smartcardUuid", M, "smartcard uuid");
            using (var s = new Utf8Strings())
                return Ops.GetSmartcard(new ConnectionTarget(Args.ToNative(connection, s, M)), smartcardUuid, s, M);
        }

        /// <summary>A CM request by id, or null when CM does not know it.</summary>
        public static CmRequestInfo GetRequest(CmConnection connection, string requestId)
        {
            const string M = "CmApi.GetRequest";
            Args.Connection(connection, M);
            Args.Guid(requestId, "requestId", M, "request id");
            using (var s = new Utf8Strings())
                return Ops.GetRequest(new ConnectionTarget(Args.ToNative(connection, s, M)), requestId, s, M);
        }

        // ---- card (PC/SC); reader null or "" = the first reader that holds a card ----

        /// <summary>The PC/SC readers with their card state; empty when no reader is connected.</summary>
        public static CmReader[] ListReaders()
        {
            const string M = "CmApi.ListReaders";
            CmLibrary.EnsureCompatible();
            CmReaderListHandle h;
            int rc = NativeMethods.cm_list_readers(out h);
            using (h)
            {
                CmLibrary.Check(rc, M);
                uint n = NativeMethods.cm_reader_list_count(h);
                var list = new CmReader[n];
                for (uint i = 0; i < n; i++)
                {
                    uint k = i;
                    string name = CmLibrary.ReadString(delegate(byte[] b, UIntPtr l, out UIntPtr o)
                        { return NativeMethods.cm_reader_list_name(h, k, b, l, out o); }, M);
                    bool present = NativeMethods.cm_reader_list_card_present(h, k) == 1;
                    string atr = CmLibrary.ReadString(delegate(byte[] b, UIntPtr l, out UIntPtr o)
                        { return NativeMethods.cm_reader_list_atr(h, k, b, l, out o); }, M);
                    list[i] = new CmReader(name, present, atr);
                }
                return list;
            }
        }

        /// <summary>The ATR of the card in reader (null or "" = first reader with a card), lowercase packed hex.</summary>
        public static string ReadCardAtr(string reader)
        {
            CmLibrary.EnsureCompatible();
            using (var s = new Utf8Strings())
            {
                IntPtr r = s.AddOptional(reader);
                return CmLibrary.ReadString(delegate(byte[] b, UIntPtr l, out UIntPtr o)
                    { return NativeMethods.cm_read_card_atr(r, b, l, out o); }, "CmApi.ReadCardAtr");
            }
        }

        /// <summary>The minidriver card ID of the card in reader (null or "" = first reader with a card).</summary>
        public static string ReadCardId(string reader, CmGuidOrder byteOrder)
        {
            const string M = "CmApi.ReadCardId";
            Args.Defined(typeof(CmGuidOrder), byteOrder, "byteOrder", M);
            CmLibrary.EnsureCompatible();
            using (var s = new Utf8Strings())
            {
                IntPtr r = s.AddOptional(reader);
                return CmLibrary.ReadString(delegate(byte[] b, UIntPtr l, out UIntPtr o)
                    { return NativeMethods.cm_read_card_id(r, (uint)byteOrder, b, l, out o); }, M);
            }
        }

        /// <summary>The card ID in the default (Windows) byte order.</summary>
        public static string ReadCardId(string reader) { return ReadCardId(reader, CmGuidOrder.Windows); }

        /// <summary>Waits for a card in reader (null or "" = any); returns the reader's name. Throws PcscTimeout / PcscCancelled.</summary>
        public static string WaitForCard(string reader, uint timeoutMs)
        {
            CmLibrary.EnsureCompatible();
            using (var s = new Utf8Strings())
            {
                IntPtr r = s.AddOptional(reader);
                return CmLibrary.ReadString(delegate(byte[] b, UIntPtr l, out UIntPtr o)
                    { return NativeMethods.cm_wait_for_card(r, timeoutMs, b, l, out o); }, "CmApi.WaitForCard");
            }
        }

        /// <summary>Cancels every WaitForCard in progress in this process; returns how many were cancelled.</summary>
        public static uint CancelWaits()
        {
            CmLibrary.EnsureCompatible();
            return NativeMethods.cm_cancel_waits();
        }

        /// <summary>Parses an ATR given as hex in any common notation.</summary>
        public static CmAtrInfo ParseAtr(string atr)
        {
            const string M = "CmApi.ParseAtr";
            if (atr == null) throw new ArgumentNullException("atr", M + ": atr is null");
            CmLibrary.EnsureCompatible();
            using (var s = new Utf8Strings())
            {
                var info = new NativeAtrInfo();
                info.struct_size = (uint)Marshal.SizeOf(typeof(NativeAtrInfo));
                info.historical_bytes = new byte[15];
                CmLibrary.Check(NativeMethods.cm_parse_atr(s.Add(atr), ref info), M);
                return new CmAtrInfo(info);
            }
        }

        /// <summary>
        /// Reads the ATR and card ID of the card in reader (null or "" = first with a card) and binds it to the
        /// request; errors as AssignSmartcard.
        /// </summary>
        public static CmAssignResult AssignSmartcardFromReader(CmConnection connection, string requestId, string reader, CmGuidOrder byteOrder)
        {
            const string M = "CmApi.AssignSmartcardFromReader";
            Args.Connection(connection, M);
            Args.Guid(requestId, "requestId", M, "request id");
            Args.Defined(typeof(CmGuidOrder), byteOrder, "byteOrder", M);
            using (var s = new Utf8Strings())
                return Ops.AssignFromReader(new ConnectionTarget(Args.ToNative(connection, s, M)), requestId, reader, byteOrder, s, M);
        }

        /// <summary>AssignSmartcardFromReader with the default (Windows) card-id byte order.</summary>
        public static CmAssignResult AssignSmartcardFromReader(CmConnection connection, string requestId, string reader)
        {
            return AssignSmartcardFromReader(connection, requestId, reader, CmGuidOrder.Windows);
        }
    }

    /// <summary>
    /// A session with one CM server: the operations of CmApi over a pool of kept-alive connections (TLS sessions,
    /// trust roots and connection-bound authentication are reused), for programs that make more than one call.
    /// Thread-safe: one session may be shared by any number of threads. Dispose it when done (closes the pooled
    /// connections); calls running on other threads finish first, later calls throw ObjectDisposedException.
    /// The connection settings are copied when the session is created; later changes to the CmConnection do not
    /// affect it.
    /// </summary>
    public sealed class CmSession : IDisposable
    {
        private readonly CmSessionHandle handle;
        private readonly string serverUrl;

        /// <summary>Creates a session; throws ArgumentException for invalid settings, CmException when the library refuses them.</summary>
        public CmSession(CmConnection connection)
        {
            const string M = "new CmSession";
            using (var s = new Utf8Strings())
            {
                NativeConnection n = Args.ToNative(connection, s, M);
                CmSessionHandle h;
                int rc = NativeMethods.cm_session_new(ref n, out h);
                if (rc != 0)
                {
                    CmException e = CmLibrary.LastError(rc, M);
                    h.Dispose();
                    throw e;
                }
                handle = h;
            }
            serverUrl = connection.ServerUrl;
        }

        /// <summary>The server URL the session was created for.</summary>
        public string ServerUrl { get { return serverUrl; } }

        /// <summary>True after Dispose.</summary>
        public bool IsClosed { get { return handle.IsClosed; } }

        /// <summary>Closes the pooled connections and frees the native session (once no call uses it).</summary>
        public void Dispose() { handle.Dispose(); }

        public override string ToString() { return serverUrl + (IsClosed ? " (closed)" : ""); }

        private CmTarget Target(string method)
        {
            if (handle.IsClosed) throw new ObjectDisposedException("CmSession", method + ": the session has been disposed");
            return new SessionTarget(handle);
        }

        /// <summary>Binds a card to a CM request; as CmApi.AssignSmartcard (incl. CmServerUnverifiedException).</summary>
        public CmAssignResult AssignSmartcard(CmAssignment assignment)
        {
            const string M = "CmSession.AssignSmartcard";
            Args.Assignment(assignment, M);
            CmTarget t = Target(M);
            using (var s = new Utf8Strings()) return Ops.Assign(t, assignment, s, M);
        }

        /// <summary>Binds a card to a CM request; atr null or "" omits it.</summary>
        public CmAssignResult AssignSmartcard(string requestId, string cardId, string atr)
        {
            const string M = "CmSession.AssignSmartcard";
            Args.Guid(requestId, "requestId", M, "request id");
            Args.Guid(cardId, "cardId", M, "card id");
            return AssignSmartcard(new CmAssignment(requestId, cardId, atr));
        }

        /// <summary>Reads the card in reader (null or "" = first with a card) and binds it to the request.</summary>
        public CmAssignResult AssignSmartcardFromReader(string requestId, string reader, CmGuidOrder byteOrder)
        {
            const string M = "CmSession.AssignSmartcardFromReader";
            Args.Guid(requestId, "requestId", M, "request id");
            Args.Defined(typeof(CmGuidOrder), byteOrder, "byteOrder", M);
            CmTarget t = Target(M);
            using (var s = new Utf8Strings()) return Ops.AssignFromReader(t, requestId, reader, byteOrder, s, M);
        }

        /// <summary>AssignSmartcardFromReader with the default (Windows) card-id byte order.</summary>
        public CmAssignResult AssignSmartcardFromReader(string requestId, string reader)
        {
            return AssignSmartcardFromReader(requestId, reader, CmGuidOrder.Windows);
        }

        /// <summary>Learns whether an assignment took effect (only GETs are sent).</summary>
        public CmReconcileResult ReconcileAssignment(CmAssignment assignment)
        {
            const string M = "CmSession.ReconcileAssignment";
            Args.Assignment(assignment, M);
            CmTarget t = Target(M);
            using (var s = new Utf8Strings()) return Ops.Reconcile(t, assignment, s, M);
        }

        /// <summary>Learns whether an assignment took effect.</summary>
        public CmReconcileResult ReconcileAssignment(string requestId, string cardId)
        {
            const string M = "CmSession.ReconcileAssignment";
            Args.Guid(requestId, "requestId", M, "request id");
            Args.Guid(cardId, "cardId", M, "card id");
            return ReconcileAssignment(new CmAssignment(requestId, cardId, null));
        }

        /// <summary>The smartcard CM holds for a card id, or null when it has none.</summary>
        public CmSmartcardInfo FindSmartcard(string cardId)
        {
            const string M = "CmSession.FindSmartcard";
            Args.Guid(cardId, "cardId", M, "card id");
            CmTarget t = Target(M);
            using (var s = new Utf8Strings()) return Ops.FindSmartcard(t, cardId, s, M);
        }

        /// <summary>A smartcard by its CM uuid, or null when CM does not know it.</summary>
        public CmSmartcardInfo GetSmartcard(string smartcardUuid)
        {
            const string M = "CmSession.GetSmartcard";
            Args.Guid(smartcardUuid, "smartcardUuid", M, "smartcard uuid");
            CmTarget t = Target(M);
            using (var s = new Utf8Strings()) return Ops.GetSmartcard(t, smartcardUuid, s, M);
        }

        /// <summary>A CM request by id, or null when CM does not know it.</summary>
        public CmRequestInfo GetRequest(string requestId)
        {
            const string M = "CmSession.GetRequest";
            Args.Guid(requestId, "requestId", M, "request id");
            CmTarget t = Target(M);
            using (var s = new Utf8Strings()) return Ops.GetRequest(t, requestId, s, M);
        }

        // ---- the enrollment flow (issue 10). Requests, smart cards, certificates and profiles over this session. ----

        private CmSessionHandle Handle(string method)
        {
            if (handle.IsClosed) throw new ObjectDisposedException("CmSession", method + ": the session has been disposed");
            return handle;
        }

        /// <summary>The profile templates the caller may see (GET /profiletemplates).</summary>
        public CmProfileTemplateInfo[] ListProfileTemplates()
        {
            const string M = "CmSession.ListProfileTemplates";
            CmListHandle h;
            int rc = NativeMethods.cm_session_list_profile_templates(Handle(M), out h);
            return Results.Map(rc, h, M, delegate(CmObject o) { return new CmProfileTemplateInfo(o); });
        }

        /// <summary>
        /// A template's workflow policy for a request type (one of CmNames.PolicyTypes, any case): ApprovalsNeeded,
        /// Enabled, PolicyDataCollection, ... Null when CM does not know the template. Dispose the result.
        /// </summary>
        public CmObject GetProfileTemplatePolicy(string templateUuid, string policyType)
        {
            const string M = "CmSession.GetProfileTemplatePolicy";
            Args.Guid(templateUuid, "templateUuid", M, "profile template uuid");
            string type = Args.Name(policyType, CmNames.PolicyTypes, "policyType", M, "policy type");
            CmSessionHandle sh = Handle(M);
            using (var s = new Utf8Strings())
            {
                CmObjectHandle h;
                int rc = NativeMethods.cm_session_get_profile_template_policy(sh, s.Add(templateUuid), s.Add(type), out h);
                return Results.Object(rc, h, M);
            }
        }

        /// <summary>
        /// A template's smart card configuration (DefaultAdminKeyHex, DiversifyAdminKey, UserPinOption,
        /// ServerProposedPin, ...). Null when CM does not know the template. Dispose the result.
        /// </summary>
        public CmObject GetSmartcardConfig(string templateUuid)
        {
            const string M = "CmSession.GetSmartcardConfig";
            Args.Guid(templateUuid, "templateUuid", M, "profile template uuid");
            CmSessionHandle sh = Handle(M);
            using (var s = new Utf8Strings())
            {
                CmObjectHandle h;
                int rc = NativeMethods.cm_session_get_smartcard_config(sh, s.Add(templateUuid), out h);
                return Results.Object(rc, h, M);
            }
        }

        /// <summary>
        /// Creates a request (POST /requests) and returns its uuid. Sent at most once: on CmStatus.OutcomeUnknown
        /// the request may or may not exist; call FindCreatedRequests(spec, time before the call) before trying again.
        /// </summary>
        public Guid CreateRequest(CmRequestSpec spec)
        {
            const string M = "CmSession.CreateRequest";
            Args.RequestSpec(spec, M);
            CmSessionHandle sh = Handle(M);
            using (var s = new Utf8Strings())
            {
                NativeRequestSpec n = Args.ToNative(spec, s);
                CmObjectHandle h;
                int rc = NativeMethods.cm_session_create_request(sh, ref n, out h);
                CmException unverified;
                using (CmObject created = Results.Processed(rc, h, M, out unverified))
                {
                    if (created == null) throw new CmException(CmStatus.MalformedResponse, M + ": the server created no request", 0, 0, "", "", M);
                    Guid id = created.GetGuid("Uuid");
                    if (unverified != null) throw CmServerUnverifiedResultException.For(unverified, id, "request creation");
                    return id;
                }
            }
        }

        /// <summary>
        /// After CreateRequest failed with OutcomeUnknown: the caller's requests that match spec (template, type,
        /// target, comment) and were submitted at or after submittedAfter (UTC; 5 minutes of clock skew allowed).
        /// Empty: the request was not created and may be created again. One: it was created. Only GETs are sent.
        /// </summary>
        public CmRequestInfo[] FindCreatedRequests(CmRequestSpec spec, DateTime submittedAfter)
        {
            const string M = "CmSession.FindCreatedRequests";
            Args.RequestSpec(spec, M);
            CmSessionHandle sh = Handle(M);
            long unix = (long)(submittedAfter.ToUniversalTime() - new DateTime(1970, 1, 1, 0, 0, 0, DateTimeKind.Utc)).TotalSeconds;
            using (var s = new Utf8Strings())
            {
                NativeRequestSpec n = Args.ToNative(spec, s);
                CmListHandle h;
                int rc = NativeMethods.cm_session_find_created_requests(sh, ref n, unix, out h);
                return Results.Map(rc, h, M, delegate(CmObject o) { return new CmRequestInfo(o, null); });
            }
        }

        /// <summary>
        /// Requests (GET /requests): status null or "" = all, else one of CmNames.RequestStatuses; mine = only the
        /// caller's (targetuser=current).
        /// </summary>
        public CmRequestInfo[] ListRequests(string status, bool mine)
        {
            const string M = "CmSession.ListRequests";
            string st = Args.OptionalName(status, CmNames.RequestStatuses, "status", M, "request status");
            CmSessionHandle sh = Handle(M);
            using (var s = new Utf8Strings())
            {
                CmListHandle h;
                int rc = NativeMethods.cm_session_list_requests(sh, s.Add(st), mine ? 1 : 0, out h);
                return Results.Map(rc, h, M, delegate(CmObject o) { return new CmRequestInfo(o, null); });
            }
        }

        /// <summary>All requests (GET /requests).</summary>
        public CmRequestInfo[] ListRequests() { return ListRequests(null, false); }

        /// <summary>
        /// Sets a request's state (PUT /requests/{id}): Completed, Canceled or Abandoned. Returns the updated request.
        /// Sent at most once: on OutcomeUnknown, GetRequest shows whether it took effect.
        /// </summary>
        public CmRequestInfo SetRequestStatus(string requestId, string status)
        {
            const string M = "CmSession.SetRequestStatus";
            Args.Guid(requestId, "requestId", M, "request id");
            string st = Args.Name(status, CmNames.SettableRequestStatuses, "status", M, "request status to set");
            CmSessionHandle sh = Handle(M);
            using (var s = new Utf8Strings())
            {
                CmObjectHandle h;
                int rc = NativeMethods.cm_session_set_request_status(sh, s.Add(requestId), s.Add(st), out h);
                CmException unverified;
                using (CmObject o = Results.Processed(rc, h, M, out unverified))
                {
                    CmRequestInfo r = o == null ? null : new CmRequestInfo(o, requestId);
                    if (unverified != null) throw CmServerUnverifiedResultException.For(unverified, r, "status change");
                    return r;
                }
            }
        }

        /// <summary>The certificate requests to build for a request, one item per CSR (empty for server-generated keys).</summary>
        public CmCsrOption[] GetCsrOptions(string requestId)
        {
            const string M = "CmSession.GetCsrOptions";
            Args.Guid(requestId, "requestId", M, "request id");
            CmSessionHandle sh = Handle(M);
            using (var s = new Utf8Strings())
            {
                CmListHandle h;
                int rc = NativeMethods.cm_session_get_csr_options(sh, s.Add(requestId), out h);
                return Results.Map(rc, h, M, delegate(CmObject o) { return new CmCsrOption(o); });
            }
        }

        /// <summary>
        /// Submits the PKCS#10 requests (DER or PEM, one per CmCsrOption, in order; an empty array for templates with
        /// server-generated keys) and returns the issued certificates
        /// (PKCS#7, or PFX for server-generated keys; CM may return more than requested). pfxPassword and comments:
        /// null or "" = none; the password's copies made here are wiped. Sent at most once, and CM returns the
        /// certificates only once: on OutcomeUnknown no reconcile is possible (look at the request's certificates).
        /// </summary>
        public CmCertificateData[] SubmitCertificateRequests(string requestId, byte[][] csrs, string pfxPassword, string comments)
        {
            return Submit("CmSession.SubmitCertificateRequests", requestId, csrs, pfxPassword, null, comments);
        }

        /// <summary>SubmitCertificateRequests with the PFX password as a SecureString (no managed copy is made).</summary>
        public CmCertificateData[] SubmitCertificateRequests(string requestId, byte[][] csrs, SecureString pfxPassword, string comments)
        {
            return Submit("CmSession.SubmitCertificateRequests", requestId, csrs, null, pfxPassword, comments);
        }

        private CmCertificateData[] Submit(string M, string requestId, byte[][] csrs, string password, SecureString securePassword, string comments)
        {
            Args.Guid(requestId, "requestId", M, "request id");
            // An empty array is valid: templates with server-generated keys have no CSR options.
            if (csrs == null) throw new ArgumentNullException("csrs", M + ": csrs is null (give an empty array for server-generated keys)");
            for (int i = 0; i < csrs.Length; i++)
                if (csrs[i] == null || csrs[i].Length == 0) throw new ArgumentException(M + ": csrs[" + i + "] is null or empty", "csrs");
            CmSessionHandle sh = Handle(M);
            using (var s = new Utf8Strings())
            {
                var items = new NativeBytes[csrs.Length];
                for (int i = 0; i < csrs.Length; i++)
                {
                    items[i].data = s.AddRaw(csrs[i]);
                    items[i].len = new UIntPtr((uint)csrs[i].Length);
                }
                IntPtr pw = securePassword != null ? s.Add(securePassword) : s.AddOptional(password);
                CmListHandle h;
                int rc = NativeMethods.cm_session_submit_certificate_requests(sh, s.Add(requestId), items.Length == 0 ? IntPtr.Zero : s.AddArray(items),
                    new UIntPtr((uint)csrs.Length), pw, s.AddOptional(comments), out h);
                CmException unverified;
                using (CmList list = Results.ProcessedList(rc, h, M, out unverified))
                {
                    var certs = new CmCertificateData[list.Count];
                    for (int i = 0; i < certs.Length; i++) certs[i] = new CmCertificateData(list[i]);
                    if (unverified != null) throw CmServerUnverifiedResultException.For(unverified, certs, "certificate requests (CM returns the certificates once)");
                    return certs;
                }
            }
        }

        private static void CardArgs(string requestId, bool requestOptional, string smartcardUuid, string cardId, string M)
        {
            if (requestOptional) Args.OptionalGuid(requestId, "requestId", M, "request id");
            else Args.Guid(requestId, "requestId", M, "request id");
            Args.Guid(smartcardUuid, "smartcardUuid", M, "smartcard uuid");
            Args.Guid(cardId, "cardId", M, "card id");
        }

        /// <summary>
        /// The card's 24-byte admin key (3DES), diversified for the card id (GET .../diversifiedkey). A secret:
        /// the caller should Array.Clear the result when done; the binding's own copies are cleared. atr: null or ""
        /// omits it.
        /// </summary>
        public byte[] GetAdminKey(string requestId, string smartcardUuid, string cardId, string atr)
        {
            const string M = "CmSession.GetAdminKey";
            CardArgs(requestId, false, smartcardUuid, cardId, M);
            CmSessionHandle sh = Handle(M);
            using (var s = new Utf8Strings())
            {
                IntPtr r = s.Add(requestId), sc = s.Add(smartcardUuid), c = s.Add(cardId), a = s.AddOptional(atr);
                byte[] key;
                int rc = CmLibrary.TryReadBytes(delegate(byte[] b, UIntPtr l, out UIntPtr o)
                    { return NativeMethods.cm_session_get_admin_key(sh, r, sc, c, a, b, l, out o); }, true, out key);
                if (rc != 0) throw CmLibrary.LastError(rc, M);
                return key;
            }
        }

        /// <summary>
        /// CM's answer to the card's admin challenge (Base CSP challenge/response: 3DES-ECB of the 8-byte challenge
        /// under the admin key; diversified: under the card's diversified key, else the template's default key).
        /// Base64 and URL escaping are done here. Also for Unblock requests.
        /// </summary>
        public byte[] GetAuthenticationResponse(string requestId, string smartcardUuid, string cardId, string atr, byte[] challenge, bool diversified)
        {
            const string M = "CmSession.GetAuthenticationResponse";
            CardArgs(requestId, false, smartcardUuid, cardId, M);
            if (challenge == null) throw new ArgumentNullException("challenge", M + ": challenge is null");
            if (challenge.Length == 0) throw new ArgumentException(M + ": challenge is empty (the card's challenge is 8 bytes)", "challenge");
            CmSessionHandle sh = Handle(M);
            using (var s = new Utf8Strings())
            {
                IntPtr r = s.Add(requestId), sc = s.Add(smartcardUuid), c = s.Add(cardId), a = s.AddOptional(atr);
                byte[] response;
                int rc = CmLibrary.TryReadBytes(delegate(byte[] b, UIntPtr l, out UIntPtr o)
                    { return NativeMethods.cm_session_get_authentication_response(sh, r, sc, c, a, challenge, new UIntPtr((uint)challenge.Length),
                        diversified ? 1 : 0, b, l, out o); }, true, out response);
                if (rc != 0) throw CmLibrary.LastError(rc, M);
                return response;
            }
        }

        /// <summary>
        /// The PIN CM proposes for the card (templates with ServerProposedPin), as a read-only SecureString; the
        /// binding's byte buffers are cleared. requestId null or "" = ask by card only; atr null or "" omits it.
        /// </summary>
        public SecureString GetServerProposedPin(string requestId, string smartcardUuid, string cardId, string atr)
        {
            const string M = "CmSession.GetServerProposedPin";
            CardArgs(requestId, true, smartcardUuid, cardId, M);
            CmSessionHandle sh = Handle(M);
            using (var s = new Utf8Strings())
            {
                IntPtr r = s.AddOptional(requestId), sc = s.Add(smartcardUuid), c = s.Add(cardId), a = s.AddOptional(atr);
                byte[] pin;
                int rc = CmLibrary.TryReadBytes(delegate(byte[] b, UIntPtr l, out UIntPtr o)
                    { return NativeMethods.cm_session_get_server_proposed_pin(sh, r, sc, c, a, b, l, out o); }, true, out pin);
                if (rc != 0) throw CmLibrary.LastError(rc, M);
                try
                {
                    var secure = new SecureString();
                    foreach (byte b in pin) secure.AppendChar((char)b); // digits: ASCII
                    secure.MakeReadOnly();
                    return secure;
                }
                finally { Array.Clear(pin, 0, pin.Length); }
            }
        }

        /// <summary>
        /// Sets a smart card's status through a request (PUT /requests/{rid}/smartcards/{sid}): one of
        /// CmNames.SettableSmartcardStatuses. Returns the updated smartcard. Sent at most once: on OutcomeUnknown,
        /// GetSmartcard shows whether it took effect.
        /// </summary>
        public CmSmartcardInfo SetSmartcardStatus(string requestId, string smartcardUuid, string status)
        {
            const string M = "CmSession.SetSmartcardStatus";
            Args.Guid(requestId, "requestId", M, "request id");
            Args.Guid(smartcardUuid, "smartcardUuid", M, "smartcard uuid");
            string st = Args.Name(status, CmNames.SettableSmartcardStatuses, "status", M, "smartcard status to set");
            CmSessionHandle sh = Handle(M);
            using (var s = new Utf8Strings())
            {
                CmObjectHandle h;
                int rc = NativeMethods.cm_session_set_smartcard_status(sh, s.Add(requestId), s.Add(smartcardUuid), s.Add(st), out h);
                CmException unverified;
                using (CmObject o = Results.Processed(rc, h, M, out unverified))
                {
                    CmSmartcardInfo card = o == null ? null : new CmSmartcardInfo(o);
                    if (unverified != null) throw CmServerUnverifiedResultException.For(unverified, card, "smart card status change");
                    return card;
                }
            }
        }

        private delegate int ListByUuid(CmSessionHandle session, IntPtr uuid, out CmListHandle list);

        private CmListHandle ByUuid(ListByUuid call, string uuid, string paramName, string what, string M, out int rc)
        {
            Args.Guid(uuid, paramName, M, what);
            CmSessionHandle sh = Handle(M);
            using (var s = new Utf8Strings())
            {
                CmListHandle h;
                rc = call(sh, s.Add(uuid), out h);
                return h;
            }
        }

        /// <summary>The operations CM allows on a smart card now (lower-case names: "renew", "unblock", "retire", ...).</summary>
        public string[] GetSmartcardOperations(string smartcardUuid)
        {
            const string M = "CmSession.GetSmartcardOperations";
            int rc;
            CmListHandle h = ByUuid(NativeMethods.cm_session_get_smartcard_operations, smartcardUuid, "smartcardUuid", "smartcard uuid", M, out rc);
            return Results.Strings(rc, h, M);
        }

        /// <summary>The operations CM allows on a profile now.</summary>
        public string[] GetProfileOperations(string profileUuid)
        {
            const string M = "CmSession.GetProfileOperations";
            int rc;
            CmListHandle h = ByUuid(NativeMethods.cm_session_get_profile_operations, profileUuid, "profileUuid", "profile uuid", M, out rc);
            return Results.Strings(rc, h, M);
        }

        /// <summary>The certificates issued for a smart card (IsKeyHistory, TemplateCommonName, SerialNumber, Thumbprint, ...). Dispose the list.</summary>
        public CmList GetSmartcardCertificates(string smartcardUuid)
        {
            const string M = "CmSession.GetSmartcardCertificates";
            int rc;
            CmListHandle h = ByUuid(NativeMethods.cm_session_get_smartcard_certificates, smartcardUuid, "smartcardUuid", "smartcard uuid", M, out rc);
            return Results.List(rc, h, M);
        }

        /// <summary>The certificates issued for a profile. Dispose the list.</summary>
        public CmList GetProfileCertificates(string profileUuid)
        {
            const string M = "CmSession.GetProfileCertificates";
            int rc;
            CmListHandle h = ByUuid(NativeMethods.cm_session_get_profile_certificates, profileUuid, "profileUuid", "profile uuid", M, out rc);
            return Results.List(rc, h, M);
        }

        /// <summary>The caller's certificates (GET /certificates; with Issuer, NotBefore, NotAfter, Status). Dispose the list.</summary>
        public CmList GetUserCertificates()
        {
            const string M = "CmSession.GetUserCertificates";
            CmListHandle h;
            int rc = NativeMethods.cm_session_get_user_certificates(Handle(M), out h);
            return Results.List(rc, h, M);
        }

        /// <summary>Profiles (GET /profiles): status null or "" = all, else one of CmNames.ProfileStatuses. Dispose the list.</summary>
        public CmList ListProfiles(string status)
        {
            const string M = "CmSession.ListProfiles";
            string st = Args.OptionalName(status, CmNames.ProfileStatuses, "status", M, "profile status");
            CmSessionHandle sh = Handle(M);
            using (var s = new Utf8Strings())
            {
                CmListHandle h;
                int rc = NativeMethods.cm_session_list_profiles(sh, s.Add(st), out h);
                return Results.List(rc, h, M);
            }
        }

        /// <summary>A profile by uuid, or null when CM does not know it. Dispose the result.</summary>
        public CmObject GetProfile(string profileUuid)
        {
            const string M = "CmSession.GetProfile";
            Args.Guid(profileUuid, "profileUuid", M, "profile uuid");
            CmSessionHandle sh = Handle(M);
            using (var s = new Utf8Strings())
            {
                CmObjectHandle h;
                int rc = NativeMethods.cm_session_get_profile(sh, s.Add(profileUuid), out h);
                return Results.Object(rc, h, M);
            }
        }

        /// <summary>The profiles of a request (GET /requests/{id}/profiles). Dispose the list.</summary>
        public CmList ListRequestProfiles(string requestId)
        {
            const string M = "CmSession.ListRequestProfiles";
            int rc;
            CmListHandle h = ByUuid(NativeMethods.cm_session_list_request_profiles, requestId, "requestId", "request id", M, out rc);
            return Results.List(rc, h, M);
        }
    }
}
