// CmSmartcard.cs: C# binding for the cm-smartcard C library (cm_smartcard.dll / libcm_smartcard.so).
//
// One file, C# 5 (compiles with Windows PowerShell 5.1's Add-Type, `mcs -langversion:5`, csc of .NET
// Framework 4.x and every later compiler). Usable from a C# project (add the file), from PowerShell
// (`Add-Type -Path CmSmartcard.cs`; the CmSmartcard PowerShell module does that) and from Mono.
//
// Rules followed (see include/cm_smartcard.h for the C API):
// - [DllImport("cm_smartcard", CallingConvention = Cdecl)]: Cdecl is mandatory for 32-bit Windows hosts.
//   The runtime resolves "cm_smartcard" to cm_smartcard.dll / libcm_smartcard.so. On Windows DllImport does
//   not search the script's folder: preload the DLL by full path with CmLibrary.Load(path) before the
//   first call (the PowerShell module does).
// - Strings go in as NUL-terminated UTF-8 in unmanaged memory we allocate and free (passwords are wiped
//   first) and come out through the size-query pattern as UTF-8 bytes. Never the ANSI code page.
// - size_t is UIntPtr; no bool crosses the boundary.
// - Every failing status becomes a CmException carrying the status, the HTTP status, the PC/SC code, the
//   library's message, the server's message and the correlation id, read on the same thread right after
//   the failing call.
// - Objects the library hands out are held in SafeHandles (freed exactly once); the high-level methods
//   copy everything out and free them before returning plain objects (pipeline-friendly in PowerShell).
// - The ABI version is checked on first use (CmLibrary.EnsureCompatible).
//
// Thread safety: every method may be called from any thread; network calls block for at most the
// configured timeouts (defaults: connect 10 s, request 30 s). UI code should call them from a worker.

using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
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
        AllowInsecureHttp = 1
    }

    /// <summary>A failure reported by the cm-smartcard library.</summary>
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
        /// <summary>The C function that failed.</summary>
        public string Function { get { return function; } }

        /// <summary>True for the PC/SC and card statuses (100-199).</summary>
        public bool IsCardError { get { int s = (int)status; return s >= 100 && s < 200; } }
        /// <summary>True for transport failures (200-299).</summary>
        public bool IsTransportError { get { int s = (int)status; return s >= 200 && s < 300; } }
        /// <summary>True for error answers of the server (300-399).</summary>
        public bool IsServerError { get { int s = (int)status; return s >= 300 && s < 400; } }
        /// <summary>True for authentication failures (400-499).</summary>
        public bool IsAuthError { get { int s = (int)status; return s >= 400 && s < 500; } }
        /// <summary>True when an assignment may or may not have happened: call ReconcileAssignment.</summary>
        public bool OutcomeUnknown { get { return status == CmStatus.OutcomeUnknown; } }

        public override string ToString()
        {
            var sb = new StringBuilder();
            sb.Append("CmException: ").Append(Status).Append(" (").Append((int)status).Append("): ").Append(Message);
            if (httpStatus != 0) sb.Append("; HTTP ").Append(httpStatus);
            if (pcscCode != 0) sb.Append("; PC/SC 0x").Append(pcscCode.ToString("X8"));
            if (serverMessage.Length != 0) sb.Append("; server: ").Append(serverMessage);
            if (correlationId.Length != 0) sb.Append("; correlation id ").Append(correlationId);
            if (StackTrace != null) sb.Append(Environment.NewLine).Append(StackTrace);
            return sb.ToString();
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
        /// <summary>PEM file with extra CA certificates; null = none.</summary>
        public string ExtraCaFile { get; set; }
        /// <summary>Authentication method; default Negotiate as the current user.</summary>
        public CmAuthMethod AuthMethod { get; set; }
        /// <summary>Authentication flags.</summary>
        public CmAuthFlags AuthFlags { get; set; }
        /// <summary>User name for NegotiateExplicit, Ntlm and Basic.</summary>
        public string UserName { get; set; }
        /// <summary>Password as a string (SecurePassword takes precedence when set).</summary>
        public string Password { get; set; }
        /// <summary>Password as a SecureString (PowerShell's PSCredential.Password).</summary>
        public SecureString SecurePassword { get; set; }
        /// <summary>Token for Bearer.</summary>
        public string BearerToken { get; set; }
        /// <summary>Kerberos SPN override; null = HTTP/host.</summary>
        public string Spn { get; set; }

        /// <summary>Sets UserName and SecurePassword from a credential (DOMAIN\user when a domain is given).</summary>
        public void SetCredential(System.Net.NetworkCredential credential)
        {
            if (credential == null) throw new ArgumentNullException("credential");
            UserName = String.IsNullOrEmpty(credential.Domain) ? credential.UserName
                : credential.Domain + "\\" + credential.UserName;
            SecurePassword = credential.SecurePassword;
            Password = null;
        }

        public override string ToString()
        {
            return (ServerUrl ?? "") + " (" + AuthMethod + (UserName != null ? ", " + UserName : "") + ")";
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
        /// <summary>The CM request id (a GUID in any common form).</summary>
        public string RequestId { get; set; }
        /// <summary>The minidriver card ID (a GUID in any common form).</summary>
        public string CardId { get; set; }
        /// <summary>The ATR in hex, any common notation; null or "" omits it.</summary>
        public string Atr { get; set; }
    }

    /// <summary>The outcome of a successful assignment.</summary>
    public sealed class CmAssignResult
    {
        internal CmAssignResult(string requestId, string cardId, string atr, int httpStatus, string uri, string uuid)
        {
            RequestId = requestId; CardId = cardId; Atr = atr; HttpStatus = httpStatus; SmartcardUri = uri; SmartcardUuid = uuid;
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

    /// <summary>A CM smartcard object (copied out of cm_smartcard).</summary>
    public sealed class CmSmartcardInfo
    {
        internal CmSmartcardInfo(string uuid, string serial, string atr, int status, string json)
        {
            Uuid = uuid; SerialNumber = serial; Atr = atr; Status = status; Json = json;
        }
        public string Uuid { get; private set; }
        /// <summary>SerialNumber as CM returned it (for Base CSP cards "{card id}").</summary>
        public string SerialNumber { get; private set; }
        public string Atr { get; private set; }
        /// <summary>Numeric Status as CM returned it; -1 when absent.</summary>
        public int Status { get; private set; }
        /// <summary>The whole object as the server's JSON.</summary>
        public string Json { get; private set; }
        public override string ToString() { return Uuid; }
    }

    /// <summary>A CM request object (copied out of cm_request).</summary>
    public sealed class CmRequestInfo
    {
        internal CmRequestInfo(string requestId, int status, string newSmartcardUuid, string json)
        {
            RequestId = requestId; Status = status; NewSmartcardUuid = newSmartcardUuid; Json = json;
        }
        /// <summary>The id the request was looked up with.</summary>
        public string RequestId { get; private set; }
        /// <summary>Numeric Status as CM returned it (3 approved, 8 completed); -1 when absent.</summary>
        public int Status { get; private set; }
        /// <summary>The smartcard bound to the request, "" while none is.</summary>
        public string NewSmartcardUuid { get; private set; }
        public string Json { get; private set; }
        public override string ToString() { return RequestId; }
    }

    // ---------------------------------------------------------------------------------------------
    // Handles

    /// <summary>An owned cm_assign_result*; freed with cm_assign_result_free.</summary>
    public sealed class CmAssignResultHandle : Microsoft.Win32.SafeHandles.SafeHandleZeroOrMinusOneIsInvalid
    {
        public CmAssignResultHandle() : base(true) { }
        protected override bool ReleaseHandle() { NativeMethods.cm_assign_result_free(handle); return true; }
    }

    /// <summary>An owned cm_smartcard*; freed with cm_smartcard_free.</summary>
    public sealed class CmSmartcardHandle : Microsoft.Win32.SafeHandles.SafeHandleZeroOrMinusOneIsInvalid
    {
        public CmSmartcardHandle() : base(true) { }
        protected override bool ReleaseHandle() { NativeMethods.cm_smartcard_free(handle); return true; }
    }

    /// <summary>An owned cm_request*; freed with cm_request_free.</summary>
    public sealed class CmRequestHandle : Microsoft.Win32.SafeHandles.SafeHandleZeroOrMinusOneIsInvalid
    {
        public CmRequestHandle() : base(true) { }
        protected override bool ReleaseHandle() { NativeMethods.cm_request_free(handle); return true; }
    }

    // ---------------------------------------------------------------------------------------------
    // Raw P/Invoke declarations, one per export of include/cm_smartcard.h.

    [StructLayout(LayoutKind.Sequential)]
    public struct NativeConnection
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
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct NativeAssignment
    {
        public uint struct_size;
        public IntPtr request_id;
        public IntPtr card_id;
        public IntPtr atr;
    }

    /// <summary>The C functions as declared in cm_smartcard.h. Prefer CmApi / CmLibrary.</summary>
    public static class NativeMethods
    {
        public const string Library = "cm_smartcard";
        /// <summary>CM_ABI_VERSION of the header this binding was written against.</summary>
        public const uint AbiVersion = 1;
        /// <summary>CM_UUID_BUFFER_SIZE.</summary>
        public const int UuidBufferSize = 37;
        /// <summary>CM_ATR_BUFFER_SIZE.</summary>
        public const int AtrBufferSize = 67;

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

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int cm_assign_result_card_id(CmAssignResultHandle result, byte[] buf, UIntPtr bufLen, out UIntPtr lenOut);
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        public static extern int cm_assign_result_atr(CmAssignResultHandle result, byte[] buf, UIntPtr bufLen, out UIntPtr lenOut);

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

        /// <summary>CM_WAIT_INFINITE.</summary>
        public const uint WaitInfinite = 4294967295;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct NativeAtrInfo
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

    /// <summary>Card-id byte order (CM_GUID_ORDER_*).</summary>
    public enum CmGuidOrder : uint
    {
        /// <summary>Windows / .NET new Guid(bytes): the default, the most likely reading of MIM CM.</summary>
        Windows = 0,
        /// <summary>RFC 4122: the 16 bytes in string order.</summary>
        Rfc4122 = 1
    }

    /// <summary>An owned cm_reader_list*; freed with cm_reader_list_free.</summary>
    public sealed class CmReaderListHandle : Microsoft.Win32.SafeHandles.SafeHandleZeroOrMinusOneIsInvalid
    {
        public CmReaderListHandle() : base(true) { }
        protected override bool ReleaseHandle() { NativeMethods.cm_reader_list_free(handle); return true; }
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
    public delegate int CmStringGetter(byte[] buf, UIntPtr bufLen, out UIntPtr lenOut);

    // ---------------------------------------------------------------------------------------------
    // Library-level functions

    /// <summary>Library information, loading and error helpers.</summary>
    public static class CmLibrary
    {
        private static readonly object gate = new object();
        private static bool checkedAbi;
        private static IntPtr preloaded = IntPtr.Zero;

        [DllImport("kernel32.dll", CharSet = CharSet.Unicode, SetLastError = true, EntryPoint = "LoadLibraryW")]
        private static extern IntPtr LoadLibraryW(string path);

        /// <summary>
        /// Loads the native library from a full path so that later calls resolve to it (Windows does not
        /// search a script's folder). Call once before anything else; later calls are ignored.
        /// </summary>
        public static void Load(string fullPath)
        {
            if (fullPath == null) throw new ArgumentNullException("fullPath");
            lock (gate)
            {
                if (preloaded != IntPtr.Zero) return;
                if (!System.IO.File.Exists(fullPath))
                    throw new System.IO.FileNotFoundException("cm-smartcard library not found", fullPath);
                // Elsewhere (Mono, PowerShell 7 on Linux) DllImport finds libcm_smartcard.so next to the
                // executable or through LD_LIBRARY_PATH; there is nothing to preload.
                if (Environment.OSVersion.Platform != PlatformID.Win32NT) return;
                IntPtr h = LoadLibraryW(fullPath);
                if (h == IntPtr.Zero)
                {
                    int err = Marshal.GetLastWin32Error();
                    string hint = err == 193 ? " (wrong bitness: this process needs the " + (IntPtr.Size == 8 ? "x64" : "x86") + " DLL)"
                        : err == 126 ? " (a dependency is missing; Windows 10 or later is required)" : "";
                    throw new DllNotFoundException("LoadLibrary(" + fullPath + ") failed with error " + err + hint);
                }
                preloaded = h;
            }
        }

        /// <summary>The library version, "MAJOR.MINOR.PATCH".</summary>
        public static string Version { get { return PtrToUtf8(NativeMethods.cm_version()); } }

        /// <summary>The ABI version the loaded library implements.</summary>
        public static uint AbiVersion { get { return NativeMethods.cm_abi_version(); } }

        /// <summary>Throws unless the loaded library implements the ABI this binding was written for.</summary>
        public static void EnsureCompatible()
        {
            if (checkedAbi) return;
            uint abi = NativeMethods.cm_abi_version();
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
        public static string ReadString(CmStringGetter getter, string function)
        {
            string s;
            int rc = TryReadString(getter, out s);
            if (rc != 0) throw LastError(rc, function);
            return s;
        }

        /// <summary>Reads a size-query string output; returns the status (0 on success).</summary>
        public static int TryReadString(CmStringGetter getter, out string value)
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

        /// <summary>Builds the exception for a failing call from this thread's last error. Call right after it.</summary>
        public static CmException LastError(int status, string function)
        {
            string message, serverMessage, correlationId;
            if (TryReadString(NativeMethods.cm_last_error_message, out message) != 0 || String.IsNullOrEmpty(message))
                message = StatusString(status);
            if (TryReadString(NativeMethods.cm_last_error_server_message, out serverMessage) != 0) serverMessage = "";
            if (TryReadString(NativeMethods.cm_last_error_correlation_id, out correlationId) != 0) correlationId = "";
            int http = NativeMethods.cm_last_error_http_status();
            uint pcsc = NativeMethods.cm_last_error_pcsc_code();
            return new CmException((CmStatus)status, message, http, pcsc, serverMessage, correlationId, function);
        }

        /// <summary>Throws the CmException for status unless it is Ok.</summary>
        public static void Check(int status, string function)
        {
            if (status != 0) throw LastError(status, function);
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
    // Idiomatic API

    /// <summary>The cm-smartcard operations. Every method throws CmException on failure.</summary>
    public static class CmApi
    {
        private static NativeConnection ToNative(CmConnection c, Utf8Strings s)
        {
            if (c == null) throw new ArgumentNullException("connection");
            if (String.IsNullOrEmpty(c.ServerUrl)) throw new ArgumentException("ServerUrl is required", "connection");
            CmLibrary.EnsureCompatible();
            var n = new NativeConnection();
            n.struct_size = (uint)Marshal.SizeOf(typeof(NativeConnection));
            n.server_url = s.Add(c.ServerUrl);
            n.connect_timeout_ms = c.ConnectTimeoutMs;
            n.timeout_ms = c.TimeoutMs;
            n.max_response_bytes = c.MaxResponseBytes;
            n.extra_ca_file = s.Add(c.ExtraCaFile);
            n.auth_method = (uint)c.AuthMethod;
            n.auth_flags = (uint)c.AuthFlags;
            n.username = s.Add(c.UserName);
            n.password = c.SecurePassword != null ? s.Add(c.SecurePassword) : s.Add(c.Password);
            n.bearer_token = s.Add(c.BearerToken);
            n.spn = s.Add(c.Spn);
            return n;
        }

        private static NativeAssignment ToNative(CmAssignment a, Utf8Strings s)
        {
            if (a == null) throw new ArgumentNullException("assignment");
            var n = new NativeAssignment();
            n.struct_size = (uint)Marshal.SizeOf(typeof(NativeAssignment));
            n.request_id = s.Add(a.RequestId);
            n.card_id = s.Add(a.CardId);
            n.atr = s.Add(a.Atr);
            return n;
        }

        /// <summary>
        /// Binds a card to a CM request (POST /smartcards). The POST is sent at most once: on
        /// CmStatus.OutcomeUnknown call ReconcileAssignment before trying again.
        /// </summary>
        public static CmAssignResult AssignSmartcard(CmConnection connection, CmAssignment assignment)
        {
            using (var s = new Utf8Strings())
            {
                NativeConnection conn = ToNative(connection, s);
                NativeAssignment asg = ToNative(assignment, s);
                CmAssignResultHandle h;
                int rc = NativeMethods.cm_assign_smartcard(ref conn, ref asg, out h);
                using (h)
                {
                    CmLibrary.Check(rc, "cm_assign_smartcard");
                    return ToAssignResult(h, assignment.RequestId, assignment.Atr);
                }
            }
        }

        /// <summary>Binds a card to a CM request; see AssignSmartcard(CmConnection, CmAssignment).</summary>
        public static CmAssignResult AssignSmartcard(CmConnection connection, string requestId, string cardId, string atr)
        {
            return AssignSmartcard(connection, new CmAssignment(requestId, cardId, atr));
        }

        /// <summary>Learns whether an assignment took effect (only GETs are sent).</summary>
        public static CmReconcileResult ReconcileAssignment(CmConnection connection, CmAssignment assignment)
        {
            using (var s = new Utf8Strings())
            {
                NativeConnection conn = ToNative(connection, s);
                NativeAssignment asg = ToNative(assignment, s);
                byte[] buf = new byte[NativeMethods.UuidBufferSize];
                int state;
                UIntPtr len;
                int rc = NativeMethods.cm_reconcile_assignment(ref conn, ref asg, out state, buf, new UIntPtr((uint)buf.Length), out len);
                CmLibrary.Check(rc, "cm_reconcile_assignment");
                string uuid = Encoding.UTF8.GetString(buf, 0, (int)len.ToUInt64());
                return new CmReconcileResult(assignment.RequestId, assignment.CardId, (CmBindingState)state, uuid);
            }
        }

        /// <summary>Learns whether an assignment took effect; see ReconcileAssignment(CmConnection, CmAssignment).</summary>
        public static CmReconcileResult ReconcileAssignment(CmConnection connection, string requestId, string cardId)
        {
            return ReconcileAssignment(connection, new CmAssignment(requestId, cardId, null));
        }

        /// <summary>The smartcard CM holds for a card id, or null when it has none.</summary>
        public static CmSmartcardInfo FindSmartcard(CmConnection connection, string cardId)
        {
            if (cardId == null) throw new ArgumentNullException("cardId");
            using (var s = new Utf8Strings())
            {
                NativeConnection conn = ToNative(connection, s);
                CmSmartcardHandle h;
                int rc = NativeMethods.cm_find_smartcard(ref conn, s.Add(cardId), out h);
                return ToSmartcard(rc, h, "cm_find_smartcard");
            }
        }

        /// <summary>A smartcard by its CM uuid, or null when CM does not know it.</summary>
        public static CmSmartcardInfo GetSmartcard(CmConnection connection, string smartcardUuid)
        {
            if (smartcardUuid == null) throw new ArgumentNullException("smartcardUuid");
            using (var s = new Utf8Strings())
            {
                NativeConnection conn = ToNative(connection, s);
                CmSmartcardHandle h;
                int rc = NativeMethods.cm_get_smartcard(ref conn, s.Add(smartcardUuid), out h);
                return ToSmartcard(rc, h, "cm_get_smartcard");
            }
        }

        /// <summary>A CM request by id, or null when CM does not know it.</summary>
        public static CmRequestInfo GetRequest(CmConnection connection, string requestId)
        {
            if (requestId == null) throw new ArgumentNullException("requestId");
            using (var s = new Utf8Strings())
            {
                NativeConnection conn = ToNative(connection, s);
                CmRequestHandle h;
                int rc = NativeMethods.cm_get_request(ref conn, s.Add(requestId), out h);
                using (h)
                {
                    CmLibrary.Check(rc, "cm_get_request");
                    if (h.IsInvalid) return null;
                    int status = NativeMethods.cm_request_status(h);
                    string uuid = CmLibrary.ReadString(delegate(byte[] b, UIntPtr l, out UIntPtr o)
                        { return NativeMethods.cm_request_new_smartcard_uuid(h, b, l, out o); }, "cm_request_new_smartcard_uuid");
                    string json = CmLibrary.ReadString(delegate(byte[] b, UIntPtr l, out UIntPtr o)
                        { return NativeMethods.cm_request_json(h, b, l, out o); }, "cm_request_json");
                    return new CmRequestInfo(requestId, status, uuid, json);
                }
            }
        }

        private static CmSmartcardInfo ToSmartcard(int rc, CmSmartcardHandle h, string function)
        {
            using (h)
            {
                CmLibrary.Check(rc, function);
                if (h.IsInvalid) return null;
                string uuid = CmLibrary.ReadString(delegate(byte[] b, UIntPtr l, out UIntPtr o)
                    { return NativeMethods.cm_smartcard_uuid(h, b, l, out o); }, "cm_smartcard_uuid");
                string serial = CmLibrary.ReadString(delegate(byte[] b, UIntPtr l, out UIntPtr o)
                    { return NativeMethods.cm_smartcard_serial_number(h, b, l, out o); }, "cm_smartcard_serial_number");
                string atr = CmLibrary.ReadString(delegate(byte[] b, UIntPtr l, out UIntPtr o)
                    { return NativeMethods.cm_smartcard_atr(h, b, l, out o); }, "cm_smartcard_atr");
                string json = CmLibrary.ReadString(delegate(byte[] b, UIntPtr l, out UIntPtr o)
                    { return NativeMethods.cm_smartcard_json(h, b, l, out o); }, "cm_smartcard_json");
                int status = NativeMethods.cm_smartcard_status(h);
                return new CmSmartcardInfo(uuid, serial, atr, status, json);
            }
        }

        // ---- card (PC/SC); reader null = the first reader that holds a card ----

        /// <summary>The PC/SC readers with their card state; empty when no reader is connected.</summary>
        public static CmReader[] ListReaders()
        {
            CmLibrary.EnsureCompatible();
            CmReaderListHandle h;
            int rc = NativeMethods.cm_list_readers(out h);
            using (h)
            {
                CmLibrary.Check(rc, "cm_list_readers");
                uint n = NativeMethods.cm_reader_list_count(h);
                var list = new CmReader[n];
                for (uint i = 0; i < n; i++)
                {
                    uint k = i;
                    string name = CmLibrary.ReadString(delegate(byte[] b, UIntPtr l, out UIntPtr o)
                        { return NativeMethods.cm_reader_list_name(h, k, b, l, out o); }, "cm_reader_list_name");
                    bool present = NativeMethods.cm_reader_list_card_present(h, k) == 1;
                    string atr = CmLibrary.ReadString(delegate(byte[] b, UIntPtr l, out UIntPtr o)
                        { return NativeMethods.cm_reader_list_atr(h, k, b, l, out o); }, "cm_reader_list_atr");
                    list[i] = new CmReader(name, present, atr);
                }
                return list;
            }
        }

        /// <summary>The ATR of the card in reader (null = first reader with a card), lowercase packed hex.</summary>
        public static string ReadCardAtr(string reader)
        {
            CmLibrary.EnsureCompatible();
            using (var s = new Utf8Strings())
            {
                IntPtr r = s.Add(reader);
                return CmLibrary.ReadString(delegate(byte[] b, UIntPtr l, out UIntPtr o)
                    { return NativeMethods.cm_read_card_atr(r, b, l, out o); }, "cm_read_card_atr");
            }
        }

        /// <summary>The minidriver card ID of the card in reader (null = first reader with a card).</summary>
        public static string ReadCardId(string reader, CmGuidOrder byteOrder)
        {
            CmLibrary.EnsureCompatible();
            using (var s = new Utf8Strings())
            {
                IntPtr r = s.Add(reader);
                return CmLibrary.ReadString(delegate(byte[] b, UIntPtr l, out UIntPtr o)
                    { return NativeMethods.cm_read_card_id(r, (uint)byteOrder, b, l, out o); }, "cm_read_card_id");
            }
        }

        /// <summary>The card ID in the default (Windows) byte order.</summary>
        public static string ReadCardId(string reader) { return ReadCardId(reader, CmGuidOrder.Windows); }

        /// <summary>Waits for a card in reader (null = any); returns the reader's name. Throws PcscTimeout / PcscCancelled.</summary>
        public static string WaitForCard(string reader, uint timeoutMs)
        {
            CmLibrary.EnsureCompatible();
            using (var s = new Utf8Strings())
            {
                IntPtr r = s.Add(reader);
                return CmLibrary.ReadString(delegate(byte[] b, UIntPtr l, out UIntPtr o)
                    { return NativeMethods.cm_wait_for_card(r, timeoutMs, b, l, out o); }, "cm_wait_for_card");
            }
        }

        /// <summary>Cancels every WaitForCard in progress in this process; returns how many were cancelled.</summary>
        public static uint CancelWaits() { return NativeMethods.cm_cancel_waits(); }

        /// <summary>Parses an ATR given as hex in any common notation.</summary>
        public static CmAtrInfo ParseAtr(string atr)
        {
            if (atr == null) throw new ArgumentNullException("atr");
            CmLibrary.EnsureCompatible();
            using (var s = new Utf8Strings())
            {
                var info = new NativeAtrInfo();
                info.struct_size = (uint)Marshal.SizeOf(typeof(NativeAtrInfo));
                info.historical_bytes = new byte[15];
                CmLibrary.Check(NativeMethods.cm_parse_atr(s.Add(atr), ref info), "cm_parse_atr");
                return new CmAtrInfo(info);
            }
        }

        /// <summary>Reads the ATR and card ID of the card in reader (null = first with a card) and binds it to the request.</summary>
        public static CmAssignResult AssignSmartcardFromReader(CmConnection connection, string requestId, string reader, CmGuidOrder byteOrder)
        {
            if (requestId == null) throw new ArgumentNullException("requestId");
            using (var s = new Utf8Strings())
            {
                NativeConnection conn = ToNative(connection, s);
                CmAssignResultHandle h;
                int rc = NativeMethods.cm_assign_smartcard_from_reader(ref conn, s.Add(requestId), s.Add(reader), (uint)byteOrder, out h);
                using (h)
                {
                    CmLibrary.Check(rc, "cm_assign_smartcard_from_reader");
                    return ToAssignResult(h, requestId, null);
                }
            }
        }

        /// <summary>AssignSmartcardFromReader with the default (Windows) card-id byte order.</summary>
        public static CmAssignResult AssignSmartcardFromReader(CmConnection connection, string requestId, string reader)
        {
            return AssignSmartcardFromReader(connection, requestId, reader, CmGuidOrder.Windows);
        }

        private static CmAssignResult ToAssignResult(CmAssignResultHandle h, string requestId, string atr)
        {
            int http = NativeMethods.cm_assign_result_http_status(h);
            string uri = CmLibrary.ReadString(delegate(byte[] b, UIntPtr l, out UIntPtr o)
                { return NativeMethods.cm_assign_result_smartcard_uri(h, b, l, out o); }, "cm_assign_result_smartcard_uri");
            string uuid = CmLibrary.ReadString(delegate(byte[] b, UIntPtr l, out UIntPtr o)
                { return NativeMethods.cm_assign_result_smartcard_uuid(h, b, l, out o); }, "cm_assign_result_smartcard_uuid");
            string card = CmLibrary.ReadString(delegate(byte[] b, UIntPtr l, out UIntPtr o)
                { return NativeMethods.cm_assign_result_card_id(h, b, l, out o); }, "cm_assign_result_card_id");
            string sentAtr = CmLibrary.ReadString(delegate(byte[] b, UIntPtr l, out UIntPtr o)
                { return NativeMethods.cm_assign_result_atr(h, b, l, out o); }, "cm_assign_result_atr");
            return new CmAssignResult(requestId, card, sentAtr, http, uri, uuid);
        }
    }
}
