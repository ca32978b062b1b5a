# CmSmartcard.psm1: PowerShell 5.1 / 7 cmdlets over the cm_smartcard native library.
#
# Layout (scripts/build-windows.sh produces it):
#   CmSmartcard\CmSmartcard.psd1, CmSmartcard.psm1, CmSmartcard.cs
#   CmSmartcard\bin\x64\cm_smartcard.dll   (64-bit PowerShell)
#   CmSmartcard\bin\x86\cm_smartcard.dll   (32-bit PowerShell, SysWOW64)
# A cm_smartcard.dll next to this file is used when bin\<arch> has none; $env:CM_SMARTCARD_DLL overrides both.
#
# The DLL is loaded by full path (DllImport does not search the module folder), then CmSmartcard.cs is
# compiled with Add-Type: the same C# 5 file C# callers use. Add-Type types cannot be unloaded: after
# replacing the module files, start a new PowerShell session.
#
# Sessions: every cmdlet that talks to the server takes -Session (New-CmSession: pooled keep-alive connections,
# authentication kept per connection). Without -Session a cmdlet makes a session of its own for its pipeline
# and disposes it in its end block, so `Import-Csv cards.csv | Register-CmSmartcard -Connection $cm` reuses
# connections too.
#
# Omitted string parameters: PowerShell passes $null to a .NET string parameter as "". The C# binding treats
# "" as "not given" for every optional string; in particular a reader of "" is the first reader with a card.
# So the cmdlets pass their string parameters straight through.
#
# This file is ASCII on purpose: Windows PowerShell 5.1 reads BOM-less scripts in the ANSI code page.

Set-StrictMode -Version 2.0

$script:Arch = if ([Environment]::Is64BitProcess) { 'x64' } else { 'x86' }

function Find-CmNativeLibrary {
    if ($env:CM_SMARTCARD_DLL) { return $env:CM_SMARTCARD_DLL }
    $isWin = ([Environment]::OSVersion.Platform -eq [PlatformID]::Win32NT)
    $name = if ($isWin) { 'cm_smartcard.dll' } else { 'libcm_smartcard.so' }
    foreach ($candidate in @((Join-Path (Join-Path (Join-Path $PSScriptRoot 'bin') $script:Arch) $name),
                             (Join-Path $PSScriptRoot $name))) {
        if (Test-Path -LiteralPath $candidate -PathType Leaf) { return $candidate }
    }
    throw "cm_smartcard: no $name for this $($script:Arch) process in '$PSScriptRoot\bin\$($script:Arch)' or '$PSScriptRoot'; set `$env:CM_SMARTCARD_DLL to its full path."
}

if (-not ('CmSmartcard.CmApi' -as [type])) {
    Add-Type -Path (Join-Path $PSScriptRoot 'CmSmartcard.cs') -ErrorAction Stop
}
$script:LibraryPath = Find-CmNativeLibrary
[CmSmartcard.CmLibrary]::Load($script:LibraryPath)
[CmSmartcard.CmLibrary]::EnsureCompatible()

# ------------------------------------------------------------------------------------------------
# Helpers (not exported)

function ConvertTo-CmErrorRecord {
    param([Parameter(Mandatory = $true)] [Exception] $Exception, [object] $TargetObject)
    $category = [System.Management.Automation.ErrorCategory]::NotSpecified
    $id = 'CmError'
    if ($Exception -is [CmSmartcard.CmException]) {
        $code = $Exception.StatusCode
        $id = 'Cm' + $Exception.Status
        $category = switch ($true) {
            ($code -ge 1 -and $code -lt 100)    { [System.Management.Automation.ErrorCategory]::InvalidArgument; break }
            ($code -ge 100 -and $code -lt 200)  { [System.Management.Automation.ErrorCategory]::DeviceError; break }
            ($code -eq 203)                     { [System.Management.Automation.ErrorCategory]::OperationTimeout; break }
            ($code -eq 204)                     { [System.Management.Automation.ErrorCategory]::InvalidResult; break }
            ($code -eq 406)                     { [System.Management.Automation.ErrorCategory]::SecurityError; break }
            ($code -ge 200 -and $code -lt 300)  { [System.Management.Automation.ErrorCategory]::ConnectionError; break }
            ($code -eq 300)                     { [System.Management.Automation.ErrorCategory]::PermissionDenied; break }
            ($code -eq 301)                     { [System.Management.Automation.ErrorCategory]::ObjectNotFound; break }
            ($code -ge 300 -and $code -lt 400)  { [System.Management.Automation.ErrorCategory]::InvalidResult; break }
            ($code -ge 400 -and $code -lt 500)  { [System.Management.Automation.ErrorCategory]::AuthenticationError; break }
            default                             { [System.Management.Automation.ErrorCategory]::NotSpecified }
        }
    }
    elseif ($Exception -is [ArgumentException]) {
        $category = [System.Management.Automation.ErrorCategory]::InvalidArgument
    }
    elseif ($Exception -is [ObjectDisposedException]) {
        $category = [System.Management.Automation.ErrorCategory]::InvalidOperation
    }
    $record = New-Object System.Management.Automation.ErrorRecord -ArgumentList $Exception, $id, $category, $TargetObject
    if ($Exception -is [CmSmartcard.CmException]) {
        $details = @()
        if ($Exception.HttpStatus -ne 0) { $details += 'HTTP status: ' + $Exception.HttpStatus }
        if ($Exception.ServerMessage) { $details += 'Server message: ' + $Exception.ServerMessage }
        if ($Exception.CorrelationId) { $details += 'Correlation id (give it to the CM administrator): ' + $Exception.CorrelationId }
        if ($Exception.PcscCode -ne 0) { $details += ('PC/SC code: 0x{0:X8}' -f $Exception.PcscCode) }
        if ($Exception.Status -eq [CmSmartcard.CmStatus]::OutcomeUnknown) {
            $details += 'The assignment may or may not have happened: run Test-CmSmartcardAssignment before trying again.'
        }
        if ($Exception.Status -eq [CmSmartcard.CmStatus]::AuthServerUnverified) {
            $details += 'The server processed the request, but did not prove its identity (mutual authentication). Do NOT send it again. Have the server''s Kerberos set-up checked (SPN, IIS Negotiate provider, proxies).'
        }
        if ($details.Count -gt 0) {
            $record.ErrorDetails = New-Object System.Management.Automation.ErrorDetails -ArgumentList (($Exception.Message, ($details -join [Environment]::NewLine)) -join [Environment]::NewLine)
        }
    }
    return $record
}

# Builds the CmConnection for a cmdlet from -Connection or -ServerUrl/-Credential/... ($Bound = $PSBoundParameters).
function Resolve-CmConnection {
    param([Parameter(Mandatory = $true)] [System.Collections.Generic.Dictionary[string, object]] $Bound)
    if ($Bound.ContainsKey('Connection')) { return $Bound['Connection'] }
    $p = @{}
    foreach ($name in 'ServerUrl', 'Credential', 'Authentication', 'BearerToken', 'AllowInsecureHttp', 'TimeoutSec') {
        if ($Bound.ContainsKey($name)) { $p[$name] = $Bound[$name] }
    }
    return New-CmConnection @p
}

# The session a server cmdlet uses: -Session as given, or a new one of its own (from -Connection, or from
# -ServerUrl/-Credential/...) that the cmdlet disposes in its end block. Returns @{ Session; Owned }.
# (A pipeline stopped by a terminating error skips end blocks; the SafeHandle then frees the session.)
function Resolve-CmSession {
    param([Parameter(Mandatory = $true)] [System.Collections.Generic.Dictionary[string, object]] $Bound)
    if ($Bound.ContainsKey('Session') -and $null -ne $Bound['Session']) {
        $session = $Bound['Session']
        if ($session.IsClosed) {
            throw (New-Object System.ObjectDisposedException -ArgumentList 'CmSession', 'The session has been closed (Close-CmSession); create a new one with New-CmSession.')
        }
        return @{ Session = $session; Owned = $false }
    }
    $conn = Resolve-CmConnection -Bound $Bound
    return @{ Session = [CmSmartcard.CmSession]::new($conn); Owned = $true }
}

# Reports a failed assignment. CmServerUnverifiedException: the card IS bound, so its result goes to the
# pipeline, together with an error that says not to send it again.
function Write-CmAssignFailure {
    param([Parameter(Mandatory = $true)] $Cmdlet, [Parameter(Mandatory = $true)] [Exception] $Exception, [object] $TargetObject)
    if ($Exception -is [CmSmartcard.CmServerUnverifiedException]) { $Exception.Result }
    $Cmdlet.WriteError((ConvertTo-CmErrorRecord -Exception $Exception -TargetObject $TargetObject))
}

# ------------------------------------------------------------------------------------------------
# Cmdlets

<#
.SYNOPSIS
Shows the version of the loaded cm_smartcard library.
.DESCRIPTION
Returns the library version, its ABI version and the full path of the DLL the module loaded.
.EXAMPLE
Get-CmLibraryVersion
.OUTPUTS
PSCustomObject with Version, AbiVersion, Architecture and Path.
#>
function Get-CmLibraryVersion {
    [CmdletBinding()]
    [OutputType([pscustomobject])]
    param()
    [pscustomobject]@{
        Version      = [CmSmartcard.CmLibrary]::Version
        AbiVersion   = [CmSmartcard.CmLibrary]::AbiVersion
        Architecture = $script:Arch
        Path         = $script:LibraryPath
    }
}

<#
.SYNOPSIS
Creates the connection settings for a MIM CM server.
.DESCRIPTION
Returns a CmSmartcard.CmConnection to pass to the other cmdlets with -Connection. Without -Credential
the current Windows user authenticates with Negotiate (Kerberos, NTLM fallback). With -Credential the
default method is NegotiateExplicit; choose Ntlm or Basic with -Authentication.
.PARAMETER ServerUrl
The CM URL, for example https://cm.contoso.com/CertificateManagement (the /CertificateManagement part is optional).
.PARAMETER Credential
The account to authenticate as (DOMAIN\user or user@REALM).
.PARAMETER Authentication
Negotiate (current user, default), NegotiateExplicit, Ntlm, Basic, Bearer or None.
.PARAMETER BearerToken
The token for -Authentication Bearer.
.PARAMETER AllowInsecureHttp
Allows credentials or tokens over plain http:// (labs only).
.PARAMETER TimeoutSec
Timeout of each HTTP request in seconds (default 30).
.PARAMETER ConnectTimeoutSec
Timeout of connecting in seconds (default 10).
.PARAMETER ExtraCaFile
A PEM file with CA certificates to trust besides the Windows store.
.PARAMETER Spn
Kerberos service principal name when it is not HTTP/<host>.
.PARAMETER RequireMutualAuth
Refuse an answer that carries no proof of the server's identity (no final Negotiate token). An answer that
was processed but not proven gives the error CmAuthServerUnverified: do not send that request again.
.PARAMETER ProxyMode
System (default: the Windows proxy settings incl. PAC; elsewhere HTTPS_PROXY/NO_PROXY), None, or Explicit.
.PARAMETER ProxyUrl
The proxy for -ProxyMode Explicit, http://host:port. Giving it alone implies -ProxyMode Explicit.
.PARAMETER ProxyBypass
Hosts or domain suffixes reached without the explicit proxy.
.PARAMETER ProxyCredential
The account for a proxy that demands authentication (default: the current user, Negotiate/NTLM).
.PARAMETER MaxIdleConnections
Sessions (New-CmSession): idle connections kept open (default 4).
.PARAMETER IdleTimeoutSec
Sessions: idle connections are closed after this many seconds (default 30).
.EXAMPLE
$cm = New-CmConnection -ServerUrl https://cm.contoso.com/CertificateManagement
.EXAMPLE
$cm = New-CmConnection -ServerUrl https://cm.contoso.com -Credential (Get-Credential CONTOSO\cmagent)
.EXAMPLE
$cm = New-CmConnection https://cm.contoso.com -ProxyUrl http://proxy.contoso.com:8080 -ProxyBypass '.corp.contoso.com'
.OUTPUTS
CmSmartcard.CmConnection
#>
function New-CmConnection {
    [CmdletBinding()]
    [OutputType('CmSmartcard.CmConnection')]
    param(
        [Parameter(Mandatory = $true, Position = 0)] [ValidateNotNullOrEmpty()] [string] $ServerUrl,
        [System.Management.Automation.PSCredential] [System.Management.Automation.Credential()]
        $Credential = [System.Management.Automation.PSCredential]::Empty,
        [CmSmartcard.CmAuthMethod] $Authentication,
        [string] $BearerToken,
        [switch] $AllowInsecureHttp,
        [ValidateRange(1, 3600)] [int] $TimeoutSec,
        [ValidateRange(1, 3600)] [int] $ConnectTimeoutSec,
        [string] $ExtraCaFile,
        [string] $Spn,
        [switch] $RequireMutualAuth,
        [CmSmartcard.CmProxyMode] $ProxyMode,
        [string] $ProxyUrl,
        [string[]] $ProxyBypass,
        [System.Management.Automation.PSCredential] [System.Management.Automation.Credential()]
        $ProxyCredential = [System.Management.Automation.PSCredential]::Empty,
        [ValidateRange(1, 1000)] [int] $MaxIdleConnections,
        [ValidateRange(1, 86400)] [int] $IdleTimeoutSec
    )
    $c = New-Object CmSmartcard.CmConnection -ArgumentList $ServerUrl
    $hasCredential = ($null -ne $Credential) -and ($Credential -ne [System.Management.Automation.PSCredential]::Empty)
    if ($PSBoundParameters.ContainsKey('Authentication')) { $c.AuthMethod = $Authentication }
    elseif ($BearerToken) { $c.AuthMethod = [CmSmartcard.CmAuthMethod]::Bearer }
    elseif ($hasCredential) { $c.AuthMethod = [CmSmartcard.CmAuthMethod]::NegotiateExplicit }
    else { $c.AuthMethod = [CmSmartcard.CmAuthMethod]::Negotiate }
    if ($hasCredential) {
        $c.UserName = $Credential.UserName
        $c.SecurePassword = $Credential.Password
    }
    if ($BearerToken) { $c.BearerToken = $BearerToken }
    $flags = [CmSmartcard.CmAuthFlags]::None
    if ($AllowInsecureHttp) { $flags = $flags -bor [CmSmartcard.CmAuthFlags]::AllowInsecureHttp }
    if ($RequireMutualAuth) { $flags = $flags -bor [CmSmartcard.CmAuthFlags]::RequireMutualAuth }
    $c.AuthFlags = $flags
    if ($TimeoutSec) { $c.TimeoutMs = [uint32]($TimeoutSec * 1000) }
    if ($ConnectTimeoutSec) { $c.ConnectTimeoutMs = [uint32]($ConnectTimeoutSec * 1000) }
    if ($ExtraCaFile) { $c.ExtraCaFile = (Resolve-Path -LiteralPath $ExtraCaFile -ErrorAction Stop).ProviderPath }
    if ($Spn) { $c.Spn = $Spn }
    if ($PSBoundParameters.ContainsKey('ProxyMode')) { $c.ProxyMode = $ProxyMode }
    elseif ($ProxyUrl) { $c.ProxyMode = [CmSmartcard.CmProxyMode]::Explicit }
    if ($ProxyUrl) { $c.ProxyUrl = $ProxyUrl }
    if ($ProxyBypass) { $c.ProxyBypass = ($ProxyBypass -join ',') }
    if (($null -ne $ProxyCredential) -and ($ProxyCredential -ne [System.Management.Automation.PSCredential]::Empty)) {
        $c.ProxyUserName = $ProxyCredential.UserName
        $c.SecureProxyPassword = $ProxyCredential.Password
    }
    if ($MaxIdleConnections) { $c.MaxIdleConnections = [uint32]$MaxIdleConnections }
    if ($IdleTimeoutSec) { $c.IdleTimeoutMs = [uint32]($IdleTimeoutSec * 1000) }
    $c
}

<#
.SYNOPSIS
Opens a session with a MIM CM server: kept-alive connections for many calls.
.DESCRIPTION
Returns a CmSmartcard.CmSession to pass with -Session to Register-CmSmartcard, Test-CmSmartcardAssignment,
Get-CmSmartcard, Get-CmRequest and Register-CmSmartcardFromReader. The session keeps connections open (TLS
sessions, trust roots and Windows authentication are reused), so a script that binds many cards makes far
fewer connections and authentication round trips. Give -Connection, or the same parameters as
New-CmConnection. A session may be used from several runspaces at once. Close it with Close-CmSession (or
$session.Dispose()) when done; its connections are closed then.
.PARAMETER Connection
Settings from New-CmConnection.
.PARAMETER ServerUrl
The CM URL when -Connection is not given (see New-CmConnection).
.PARAMETER Credential
The account to authenticate as (see New-CmConnection).
.PARAMETER Authentication
Negotiate (current user, default), NegotiateExplicit, Ntlm, Basic, Bearer or None.
.PARAMETER BearerToken
The token for -Authentication Bearer.
.PARAMETER AllowInsecureHttp
Allows credentials or tokens over plain http:// (labs only).
.PARAMETER TimeoutSec
Timeout of each HTTP request in seconds (default 30).
.PARAMETER ConnectTimeoutSec
Timeout of connecting in seconds (default 10).
.PARAMETER ExtraCaFile
A PEM file with CA certificates to trust besides the Windows store.
.PARAMETER Spn
Kerberos service principal name when it is not HTTP/<host>.
.PARAMETER RequireMutualAuth
Refuse an answer without proof of the server's identity.
.PARAMETER ProxyMode
System (default), None, or Explicit.
.PARAMETER ProxyUrl
The proxy for -ProxyMode Explicit, http://host:port.
.PARAMETER ProxyBypass
Hosts or domain suffixes reached without the explicit proxy.
.PARAMETER ProxyCredential
The account for a proxy that demands authentication.
.PARAMETER MaxIdleConnections
Idle connections kept open (default 4).
.PARAMETER IdleTimeoutSec
Idle connections are closed after this many seconds (default 30).
.EXAMPLE
$s = New-CmSession -ServerUrl https://cm.contoso.com
Import-Csv .\cards.csv | Register-CmSmartcard -Session $s
Close-CmSession $s
.EXAMPLE
$s = New-CmConnection https://cm.contoso.com -Credential $cred | New-CmSession
try { Get-CmRequest -Session $s -RequestId $req } finally { $s.Dispose() }
.INPUTS
CmSmartcard.CmConnection
.OUTPUTS
CmSmartcard.CmSession
#>
function New-CmSession {
    [CmdletBinding(DefaultParameterSetName = 'Url')]
    [OutputType('CmSmartcard.CmSession')]
    param(
        [Parameter(Mandatory = $true, ParameterSetName = 'Connection', ValueFromPipeline = $true)] [CmSmartcard.CmConnection] $Connection,
        [Parameter(Mandatory = $true, Position = 0, ParameterSetName = 'Url')] [ValidateNotNullOrEmpty()] [string] $ServerUrl,
        [Parameter(ParameterSetName = 'Url')] [System.Management.Automation.PSCredential] [System.Management.Automation.Credential()]
        $Credential = [System.Management.Automation.PSCredential]::Empty,
        [Parameter(ParameterSetName = 'Url')] [CmSmartcard.CmAuthMethod] $Authentication,
        [Parameter(ParameterSetName = 'Url')] [string] $BearerToken,
        [Parameter(ParameterSetName = 'Url')] [switch] $AllowInsecureHttp,
        [Parameter(ParameterSetName = 'Url')] [ValidateRange(1, 3600)] [int] $TimeoutSec,
        [Parameter(ParameterSetName = 'Url')] [ValidateRange(1, 3600)] [int] $ConnectTimeoutSec,
        [Parameter(ParameterSetName = 'Url')] [string] $ExtraCaFile,
        [Parameter(ParameterSetName = 'Url')] [string] $Spn,
        [Parameter(ParameterSetName = 'Url')] [switch] $RequireMutualAuth,
        [Parameter(ParameterSetName = 'Url')] [CmSmartcard.CmProxyMode] $ProxyMode,
        [Parameter(ParameterSetName = 'Url')] [string] $ProxyUrl,
        [Parameter(ParameterSetName = 'Url')] [string[]] $ProxyBypass,
        [Parameter(ParameterSetName = 'Url')] [System.Management.Automation.PSCredential] [System.Management.Automation.Credential()]
        $ProxyCredential = [System.Management.Automation.PSCredential]::Empty,
        [Parameter(ParameterSetName = 'Url')] [ValidateRange(1, 1000)] [int] $MaxIdleConnections,
        [Parameter(ParameterSetName = 'Url')] [ValidateRange(1, 86400)] [int] $IdleTimeoutSec
    )
    process {
        try {
            if ($PSCmdlet.ParameterSetName -eq 'Connection') { $conn = $Connection }
            else {
                $p = @{}
                foreach ($name in $PSBoundParameters.Keys) { $p[$name] = $PSBoundParameters[$name] }
                $conn = New-CmConnection @p
            }
            [CmSmartcard.CmSession]::new($conn)
        }
        catch { $PSCmdlet.ThrowTerminatingError((ConvertTo-CmErrorRecord -Exception $_.Exception.GetBaseException() -TargetObject $ServerUrl)) }
    }
}

<#
.SYNOPSIS
Closes a session made by New-CmSession.
.DESCRIPTION
Closes the session's pooled connections and frees it (the same as $session.Dispose()). Calls still running
in other runspaces finish first; later calls with the session fail with an ObjectDisposedException. Closing
a closed session does nothing.
.PARAMETER Session
The session to close. Accepts sessions from the pipeline.
.EXAMPLE
Close-CmSession $s
.EXAMPLE
$s = New-CmSession https://cm.contoso.com
try { Get-CmRequest -Session $s -RequestId $req } finally { Close-CmSession $s }
.INPUTS
CmSmartcard.CmSession
.OUTPUTS
None
#>
function Close-CmSession {
    [CmdletBinding()]
    [OutputType([void])]
    param(
        [Parameter(Mandatory = $true, Position = 0, ValueFromPipeline = $true)] [CmSmartcard.CmSession] $Session
    )
    process { $Session.Dispose() }
}

<#
.SYNOPSIS
Binds a smart card to a MIM CM request.
.DESCRIPTION
Sends POST /CertificateManagement/api/v1.0/smartcards with the request id, the card id and the ATR and
returns the new CM smartcard (SmartcardUuid, SmartcardUri, HttpStatus). Input objects with RequestId,
CardId and Atr properties (for example from Import-Csv) can be piped in; each one is bound in turn and a
failure is written as a non-terminating error, so the others continue.
The POST is sent at most once. When the answer is lost (error id CmOutcomeUnknown) run
Test-CmSmartcardAssignment before trying again. Error id CmAuthServerUnverified means the server processed
the request (the card IS bound; its result is written to the pipeline too) but did not prove its identity:
do not send it again.
Without -Session the cmdlet opens a session for its pipeline, so piped cards share connections.
.PARAMETER RequestId
The CM request id (a GUID in any common form).
.PARAMETER CardId
The card id (minidriver card ID) as a GUID.
.PARAMETER Atr
The card's ATR as hex (3B 8D 01 ..., 3b:8d:..., or packed). Optional.
.PARAMETER Session
A session from New-CmSession (connections are reused across calls and cmdlets).
.PARAMETER Connection
Settings from New-CmConnection. Or give -ServerUrl (and -Credential etc.) directly.
.PARAMETER ServerUrl
The CM URL when -Connection is not given.
.PARAMETER Credential
The account to authenticate as when -Connection is not given.
.PARAMETER Authentication
The authentication method when -Connection is not given.
.PARAMETER BearerToken
The bearer token when -Connection is not given.
.PARAMETER AllowInsecureHttp
Allows credentials over plain http:// when -Connection is not given (labs only).
.PARAMETER TimeoutSec
Timeout of each HTTP request in seconds when -Connection is not given.
.EXAMPLE
Register-CmSmartcard -Connection $cm -RequestId 0a5c1f0e-... -CardId 6f9619ff-... -Atr '3B 8D 01 80 FB A0 00 00 03 97 42 54 46 59 03 01 C8'
.EXAMPLE
Import-Csv .\cards.csv | Register-CmSmartcard -ServerUrl https://cm.contoso.com -Credential $cred
.EXAMPLE
$s = New-CmSession https://cm.contoso.com
Register-CmSmartcard -Session $s -RequestId $req -CardId $card
.INPUTS
Objects with RequestId, CardId and Atr properties.
.OUTPUTS
CmSmartcard.CmAssignResult
#>
function Register-CmSmartcard {
    [CmdletBinding(SupportsShouldProcess = $true, ConfirmImpact = 'Medium', DefaultParameterSetName = 'Connection')]
    [OutputType('CmSmartcard.CmAssignResult')]
    param(
        [Parameter(Mandatory = $true, ValueFromPipelineByPropertyName = $true)] [ValidateNotNullOrEmpty()] [string] $RequestId,
        [Parameter(Mandatory = $true, ValueFromPipelineByPropertyName = $true)] [ValidateNotNullOrEmpty()] [string] $CardId,
        [Parameter(ValueFromPipelineByPropertyName = $true)] [AllowEmptyString()] [string] $Atr,
        [Parameter(Mandatory = $true, ParameterSetName = 'Session')] [CmSmartcard.CmSession] $Session,
        [Parameter(Mandatory = $true, ParameterSetName = 'Connection')] [CmSmartcard.CmConnection] $Connection,
        [Parameter(Mandatory = $true, ParameterSetName = 'Url')] [string] $ServerUrl,
        [Parameter(ParameterSetName = 'Url')] [System.Management.Automation.PSCredential] [System.Management.Automation.Credential()]
        $Credential = [System.Management.Automation.PSCredential]::Empty,
        [Parameter(ParameterSetName = 'Url')] [CmSmartcard.CmAuthMethod] $Authentication,
        [Parameter(ParameterSetName = 'Url')] [string] $BearerToken,
        [Parameter(ParameterSetName = 'Url')] [switch] $AllowInsecureHttp,
        [Parameter(ParameterSetName = 'Url')] [int] $TimeoutSec
    )
    begin {
        try { $target = Resolve-CmSession -Bound $PSBoundParameters }
        catch { $PSCmdlet.ThrowTerminatingError((ConvertTo-CmErrorRecord -Exception $_.Exception.GetBaseException() -TargetObject $ServerUrl)) }
    }
    process {
        if (-not $PSCmdlet.ShouldProcess("CM request $RequestId", "Bind card $CardId")) { return }
        # An omitted -Atr arrives as "": the binding sends no ATR then.
        try { $target.Session.AssignSmartcard($RequestId, $CardId, $Atr) }
        catch { Write-CmAssignFailure -Cmdlet $PSCmdlet -Exception $_.Exception.GetBaseException() -TargetObject $RequestId }
    }
    end {
        if ($target.Owned) { $target.Session.Dispose() }
    }
}

<#
.SYNOPSIS
Tells whether a card is bound to a MIM CM request (reconciles an assignment whose outcome is unknown).
.DESCRIPTION
Reads the request and the smartcard bound to it (GET requests only) and compares it with the card id.
State is NotBound (the assignment did not happen; it may be sent again), BoundToThisCard (it happened; do
not send it again) or BoundToOtherCard. With -Quiet only $true (bound to this card) or $false is returned.
.PARAMETER RequestId
The CM request id.
.PARAMETER CardId
The card id expected to be bound.
.PARAMETER Quiet
Return only $true when the card is bound to the request, $false otherwise.
.PARAMETER Session
A session from New-CmSession (connections are reused across calls and cmdlets).
.PARAMETER Connection
Settings from New-CmConnection. Or give -ServerUrl (and -Credential etc.) directly.
.PARAMETER ServerUrl
The CM URL when -Connection is not given.
.PARAMETER Credential
The account to authenticate as when -Connection is not given.
.PARAMETER Authentication
The authentication method when -Connection is not given.
.PARAMETER BearerToken
The bearer token when -Connection is not given.
.PARAMETER AllowInsecureHttp
Allows credentials over plain http:// when -Connection is not given (labs only).
.PARAMETER TimeoutSec
Timeout of each HTTP request in seconds when -Connection is not given.
.EXAMPLE
Test-CmSmartcardAssignment -Connection $cm -RequestId $req -CardId $card
.EXAMPLE
if (-not (Test-CmSmartcardAssignment -Connection $cm -RequestId $req -CardId $card -Quiet)) { Register-CmSmartcard -Connection $cm -RequestId $req -CardId $card }
.EXAMPLE
Import-Csv .\bound.csv | Test-CmSmartcardAssignment -Session $s
.INPUTS
Objects with RequestId and CardId properties (for example the output of Register-CmSmartcard).
.OUTPUTS
CmSmartcard.CmReconcileResult, or System.Boolean with -Quiet.
#>
function Test-CmSmartcardAssignment {
    [CmdletBinding(DefaultParameterSetName = 'Connection')]
    [OutputType('CmSmartcard.CmReconcileResult', [bool])]
    param(
        [Parameter(Mandatory = $true, ValueFromPipelineByPropertyName = $true)] [ValidateNotNullOrEmpty()] [string] $RequestId,
        [Parameter(Mandatory = $true, ValueFromPipelineByPropertyName = $true)] [ValidateNotNullOrEmpty()] [string] $CardId,
        [switch] $Quiet,
        [Parameter(Mandatory = $true, ParameterSetName = 'Session')] [CmSmartcard.CmSession] $Session,
        [Parameter(Mandatory = $true, ParameterSetName = 'Connection')] [CmSmartcard.CmConnection] $Connection,
        [Parameter(Mandatory = $true, ParameterSetName = 'Url')] [string] $ServerUrl,
        [Parameter(ParameterSetName = 'Url')] [System.Management.Automation.PSCredential] [System.Management.Automation.Credential()]
        $Credential = [System.Management.Automation.PSCredential]::Empty,
        [Parameter(ParameterSetName = 'Url')] [CmSmartcard.CmAuthMethod] $Authentication,
        [Parameter(ParameterSetName = 'Url')] [string] $BearerToken,
        [Parameter(ParameterSetName = 'Url')] [switch] $AllowInsecureHttp,
        [Parameter(ParameterSetName = 'Url')] [int] $TimeoutSec
    )
    begin {
        try { $target = Resolve-CmSession -Bound $PSBoundParameters }
        catch { $PSCmdlet.ThrowTerminatingError((ConvertTo-CmErrorRecord -Exception $_.Exception.GetBaseException() -TargetObject $ServerUrl)) }
    }
    process {
        try {
            $r = $target.Session.ReconcileAssignment($RequestId, $CardId)
            if ($Quiet) { $r.State -eq [CmSmartcard.CmBindingState]::BoundToThisCard } else { $r }
        }
        catch {
            $PSCmdlet.WriteError((ConvertTo-CmErrorRecord -Exception $_.Exception.GetBaseException() -TargetObject $RequestId))
        }
    }
    end {
        if ($target.Owned) { $target.Session.Dispose() }
    }
}

<#
.SYNOPSIS
Gets a smartcard object from MIM CM by card id or by its CM uuid.
.DESCRIPTION
With -CardId looks the card up by its serial number (GET /smartcards?cardid=); with -SmartcardUuid reads
it directly. Writes an ObjectNotFound error when CM has no such smartcard.
.PARAMETER CardId
The card id (minidriver card ID).
.PARAMETER SmartcardUuid
The CM smartcard uuid (for example SmartcardUuid from Register-CmSmartcard).
.PARAMETER Session
A session from New-CmSession (connections are reused across calls and cmdlets).
.PARAMETER Connection
Settings from New-CmConnection. Or give -ServerUrl (and -Credential etc.) directly.
.PARAMETER ServerUrl
The CM URL when -Connection is not given.
.PARAMETER Credential
The account to authenticate as when -Connection is not given.
.PARAMETER Authentication
The authentication method when -Connection is not given.
.PARAMETER AllowInsecureHttp
Allows credentials over plain http:// when -Connection is not given (labs only).
.EXAMPLE
Get-CmSmartcard -Connection $cm -CardId 6f9619ff-8b86-d011-b42d-00c04fc964ff
.EXAMPLE
Register-CmSmartcard -Connection $cm -RequestId $r -CardId $c | Get-CmSmartcard -Connection $cm
.EXAMPLE
Get-CmSmartcard -Session $s -SmartcardUuid 5a9b7c40-c3a0-46b1-99a7-ec213441c1a7
.INPUTS
Objects with a CardId or SmartcardUuid property.
.OUTPUTS
CmSmartcard.CmSmartcardInfo
#>
function Get-CmSmartcard {
    [CmdletBinding(DefaultParameterSetName = 'ByCardId')]
    [OutputType('CmSmartcard.CmSmartcardInfo')]
    param(
        [Parameter(Mandatory = $true, ParameterSetName = 'ByCardId', ValueFromPipelineByPropertyName = $true)]
        [ValidateNotNullOrEmpty()] [string] $CardId,
        [Parameter(Mandatory = $true, ParameterSetName = 'ByUuid', ValueFromPipelineByPropertyName = $true)]
        [Alias('Uuid')] [ValidateNotNullOrEmpty()] [string] $SmartcardUuid,
        [CmSmartcard.CmSession] $Session,
        [CmSmartcard.CmConnection] $Connection,
        [string] $ServerUrl,
        [System.Management.Automation.PSCredential] [System.Management.Automation.Credential()]
        $Credential = [System.Management.Automation.PSCredential]::Empty,
        [CmSmartcard.CmAuthMethod] $Authentication,
        [switch] $AllowInsecureHttp
    )
    begin {
        if (-not $Session -and -not $Connection -and -not $ServerUrl) {
            $PSCmdlet.ThrowTerminatingError((ConvertTo-CmErrorRecord -Exception (New-Object ArgumentException 'Give -Session, -Connection or -ServerUrl.') -TargetObject $null))
        }
        try { $target = Resolve-CmSession -Bound $PSBoundParameters }
        catch { $PSCmdlet.ThrowTerminatingError((ConvertTo-CmErrorRecord -Exception $_.Exception.GetBaseException() -TargetObject $ServerUrl)) }
    }
    process {
        $key = if ($PSCmdlet.ParameterSetName -eq 'ByCardId') { $CardId } else { $SmartcardUuid }
        try {
            $sc = if ($PSCmdlet.ParameterSetName -eq 'ByCardId') { $target.Session.FindSmartcard($CardId) }
                  else { $target.Session.GetSmartcard($SmartcardUuid) }
            if ($null -eq $sc) {
                $e = New-Object System.Management.Automation.ItemNotFoundException "CM has no smartcard for '$key'."
                $PSCmdlet.WriteError((New-Object System.Management.Automation.ErrorRecord -ArgumentList $e, 'CmSmartcardNotFound', ([System.Management.Automation.ErrorCategory]::ObjectNotFound), $key))
            }
            else { $sc }
        }
        catch {
            $PSCmdlet.WriteError((ConvertTo-CmErrorRecord -Exception $_.Exception.GetBaseException() -TargetObject $key))
        }
    }
    end {
        if ($target.Owned) { $target.Session.Dispose() }
    }
}

<#
.SYNOPSIS
Gets a MIM CM request by id.
.DESCRIPTION
Reads GET /requests/{id}: Status (3 = Approved, 8 = Completed), NewSmartcardUuid (the bound card, "" while
none) and the whole object as Json. Writes an ObjectNotFound error when CM does not know the request.
.PARAMETER RequestId
The CM request id.
.PARAMETER Session
A session from New-CmSession (connections are reused across calls and cmdlets).
.PARAMETER Connection
Settings from New-CmConnection. Or give -ServerUrl (and -Credential etc.) directly.
.PARAMETER ServerUrl
The CM URL when -Connection is not given.
.PARAMETER Credential
The account to authenticate as when -Connection is not given.
.PARAMETER Authentication
The authentication method when -Connection is not given.
.PARAMETER AllowInsecureHttp
Allows credentials over plain http:// when -Connection is not given (labs only).
.EXAMPLE
Get-CmRequest -Connection $cm -RequestId 0a5c1f0e-2c4e-4a7c-9f43-3f4b2d5c6e7f
.EXAMPLE
$s = New-CmSession https://cm.contoso.com
Get-Content .\requests.txt | Get-CmRequest -Session $s
.INPUTS
Objects with a RequestId property.
.OUTPUTS
CmSmartcard.CmRequestInfo
#>
function Get-CmRequest {
    [CmdletBinding()]
    [OutputType('CmSmartcard.CmRequestInfo')]
    param(
        [Parameter(Mandatory = $true, Position = 0, ValueFromPipeline = $true, ValueFromPipelineByPropertyName = $true)]
        [ValidateNotNullOrEmpty()] [string] $RequestId,
        [CmSmartcard.CmSession] $Session,
        [CmSmartcard.CmConnection] $Connection,
        [string] $ServerUrl,
        [System.Management.Automation.PSCredential] [System.Management.Automation.Credential()]
        $Credential = [System.Management.Automation.PSCredential]::Empty,
        [CmSmartcard.CmAuthMethod] $Authentication,
        [switch] $AllowInsecureHttp
    )
    begin {
        if (-not $Session -and -not $Connection -and -not $ServerUrl) {
            $PSCmdlet.ThrowTerminatingError((ConvertTo-CmErrorRecord -Exception (New-Object ArgumentException 'Give -Session, -Connection or -ServerUrl.') -TargetObject $null))
        }
        try { $target = Resolve-CmSession -Bound $PSBoundParameters }
        catch { $PSCmdlet.ThrowTerminatingError((ConvertTo-CmErrorRecord -Exception $_.Exception.GetBaseException() -TargetObject $ServerUrl)) }
    }
    process {
        try {
            $r = $target.Session.GetRequest($RequestId)
            if ($null -eq $r) {
                $e = New-Object System.Management.Automation.ItemNotFoundException "CM has no request '$RequestId'."
                $PSCmdlet.WriteError((New-Object System.Management.Automation.ErrorRecord -ArgumentList $e, 'CmRequestNotFound', ([System.Management.Automation.ErrorCategory]::ObjectNotFound), $RequestId))
            }
            else { $r }
        }
        catch {
            $PSCmdlet.WriteError((ConvertTo-CmErrorRecord -Exception $_.Exception.GetBaseException() -TargetObject $RequestId))
        }
    }
    end {
        if ($target.Owned) { $target.Session.Dispose() }
    }
}

<#
.SYNOPSIS
Lists the PC/SC smart-card readers, with whether each holds a card and the card's ATR.
.DESCRIPTION
Takes a snapshot of the readers through PC/SC (the Windows Smart Card service, or pcscd). Each reader is
written to the pipeline as an object with Name, CardPresent and Atr (lowercase hex, "" when empty).
.EXAMPLE
Get-CmSmartcardReader | Where-Object CardPresent
.OUTPUTS
CmSmartcard.CmReader
#>
function Get-CmSmartcardReader {
    [CmdletBinding()]
    [OutputType('CmSmartcard.CmReader')]
    param()
    try { [CmSmartcard.CmApi]::ListReaders() }
    catch { $PSCmdlet.WriteError((ConvertTo-CmErrorRecord -Exception $_.Exception.GetBaseException() -TargetObject $null)) }
}

<#
.SYNOPSIS
Reads the ATR of the card in a reader.
.DESCRIPTION
Connects to the card in shared mode and returns its ATR as lowercase packed hex, exactly as PC/SC reports it.
.PARAMETER Reader
The reader name (exact, or a unique case-insensitive part of it). Omit it (or give "") for the first reader that
holds a card.
Accepts reader objects from Get-CmSmartcardReader through the pipeline.
.EXAMPLE
Get-CmSmartcardAtr
.EXAMPLE
Get-CmSmartcardReader | Where-Object CardPresent | Get-CmSmartcardAtr
.OUTPUTS
System.String
#>
function Get-CmSmartcardAtr {
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(ValueFromPipelineByPropertyName = $true)] [Alias('Name')] [string] $Reader
    )
    process {
        try { [CmSmartcard.CmApi]::ReadCardAtr($Reader) }
        catch { $PSCmdlet.WriteError((ConvertTo-CmErrorRecord -Exception $_.Exception.GetBaseException() -TargetObject $Reader)) }
    }
}

<#
.SYNOPSIS
Reads the minidriver card ID of the card in a reader.
.DESCRIPTION
Reads the 16-byte card ID (GIDS cards and Windows virtual smart cards: DF20 in A012; PIV cards: from the CHUID)
and returns it as a GUID string. -ByteOrder Windows (the default, as .NET new Guid(bytes)) is the most likely
reading of MIM CM; Rfc4122 is offered because that is unverified on a real server.
.PARAMETER Reader
The reader name, or omit it (or give "") for the first reader that holds a card. Accepts reader objects from the
pipeline.
.PARAMETER ByteOrder
Windows (default) or Rfc4122.
.EXAMPLE
Get-CmCardId -Reader 'Virtual PCD 00 00'
.OUTPUTS
System.String
#>
function Get-CmCardId {
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(ValueFromPipelineByPropertyName = $true)] [Alias('Name')] [string] $Reader,
        [CmSmartcard.CmGuidOrder] $ByteOrder = [CmSmartcard.CmGuidOrder]::Windows
    )
    process {
        try { [CmSmartcard.CmApi]::ReadCardId($Reader, $ByteOrder) }
        catch { $PSCmdlet.WriteError((ConvertTo-CmErrorRecord -Exception $_.Exception.GetBaseException() -TargetObject $Reader)) }
    }
}

<#
.SYNOPSIS
Binds the smart card in a reader to a MIM CM request: the whole job in one step.
.DESCRIPTION
Reads the ATR and card ID of the card in the reader and posts them to the CM REST API. The POST is sent at most
once: on OutcomeUnknown, use Test-CmSmartcardAssignment before trying again. A card whose ID is all zeros is
refused.
.PARAMETER RequestId
The CM request id (Approved or Executing).
.PARAMETER Reader
The reader name, or omit it (or give "") for the first reader that holds a card.
.PARAMETER ByteOrder
Card-id byte order: Windows (default) or Rfc4122.
.PARAMETER Session
A session from New-CmSession.
.PARAMETER Connection
Settings from New-CmConnection (a session is opened for the pipeline).
.EXAMPLE
$cm = New-CmConnection https://cm.contoso.com
Register-CmSmartcardFromReader -Connection $cm -RequestId $req
.EXAMPLE
$s = New-CmSession https://cm.contoso.com
Register-CmSmartcardFromReader -Session $s -RequestId $req -Reader 'Virtual PCD 00 00' 
.OUTPUTS
CmSmartcard.CmAssignResult
#>
function Register-CmSmartcardFromReader {
    [CmdletBinding(SupportsShouldProcess = $true, ConfirmImpact = 'Medium', DefaultParameterSetName = 'Connection')]
    [OutputType('CmSmartcard.CmAssignResult')]
    param(
        [Parameter(Mandatory = $true, ValueFromPipelineByPropertyName = $true)] [ValidateNotNullOrEmpty()] [string] $RequestId,
        [Parameter(ValueFromPipelineByPropertyName = $true)] [string] $Reader,
        [CmSmartcard.CmGuidOrder] $ByteOrder = [CmSmartcard.CmGuidOrder]::Windows,
        [Parameter(Mandatory = $true, ParameterSetName = 'Session')] [CmSmartcard.CmSession] $Session,
        [Parameter(Mandatory = $true, ParameterSetName = 'Connection')] [CmSmartcard.CmConnection] $Connection
    )
    begin {
        try { $target = Resolve-CmSession -Bound $PSBoundParameters }
        catch { $PSCmdlet.ThrowTerminatingError((ConvertTo-CmErrorRecord -Exception $_.Exception.GetBaseException() -TargetObject $null)) }
    }
    process {
        $what = if ($Reader) { "Bind the card in reader '$Reader'" } else { 'Bind the card in the first reader that holds one' }
        if (-not $PSCmdlet.ShouldProcess("CM request $RequestId", $what)) { return }
        # An omitted -Reader arrives as "": the first reader that holds a card.
        try { $target.Session.AssignSmartcardFromReader($RequestId, $Reader, $ByteOrder) }
        catch { Write-CmAssignFailure -Cmdlet $PSCmdlet -Exception $_.Exception.GetBaseException() -TargetObject $RequestId }
    }
    end {
        if ($target.Owned) { $target.Session.Dispose() }
    }
}

Export-ModuleMember -Function Get-CmLibraryVersion, New-CmConnection, New-CmSession, Close-CmSession, Register-CmSmartcard, Test-CmSmartcardAssignment, Get-CmSmartcard, Get-CmRequest, Get-CmSmartcardReader, Get-CmSmartcardAtr, Get-CmCardId, Register-CmSmartcardFromReader
