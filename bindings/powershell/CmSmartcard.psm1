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
            ($code -ge 10 -and $code -le 13)    { [System.Management.Automation.ErrorCategory]::InvalidResult; break }  # a field of CM's answer
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
            $details += switch ($Exception.Function) {
                'CmSession.CreateRequest' { 'The request may or may not have been created: run Find-CmCreatedRequest (same parameters, -SubmittedAfter a time before the attempt) before trying again.'; break }
                'CmSession.SetRequestStatus' { 'The status may or may not have been set: Get-CmRequest shows it; do not send it blindly again.'; break }
                'CmSession.SetSmartcardStatus' { 'The card status may or may not have been set: Get-CmSmartcard -SmartcardUuid shows it.'; break }
                'CmSession.SubmitCertificateRequests' { 'The certificate requests may or may not have been processed. CM returns certificate data only once, so it cannot be fetched again: check Get-CmSmartcardCertificate and, if certificates were issued, have the request handled in CM.'; break }
                default { 'The assignment may or may not have happened: run Test-CmSmartcardAssignment before trying again.' }
            }
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

# Writes the ObjectNotFound error of a lookup CM answered with 204 (no such object).
function Write-CmNotFound {
    param([Parameter(Mandatory = $true)] $Cmdlet, [Parameter(Mandatory = $true)] [string] $What, [object] $Target)
    $e = New-Object System.Management.Automation.ItemNotFoundException "CM has no $What."
    $Cmdlet.WriteError((New-Object System.Management.Automation.ErrorRecord -ArgumentList $e, 'CmNotFound', ([System.Management.Automation.ErrorCategory]::ObjectNotFound), $Target))
}

# A CmObject as a PSCustomObject: CM's properties (typed as the JSON has them), $Extra, and the raw Json. The
# CmObject is disposed. TypeName becomes the object's first type name (CmSmartcard.<TypeName>).
function ConvertFrom-CmObject {
    param([Parameter(Mandatory = $true)] [CmSmartcard.CmObject] $Object, [Parameter(Mandatory = $true)] [string] $TypeName,
          [System.Collections.IDictionary] $Extra)
    try {
        $json = $Object.Json
        $o = ConvertFrom-Json -InputObject $json
        if ($Extra) { foreach ($k in $Extra.Keys) { Add-Member -InputObject $o -NotePropertyName $k -NotePropertyValue $Extra[$k] -Force } }
        Add-Member -InputObject $o -NotePropertyName 'Json' -NotePropertyValue $json -Force
        $o.PSObject.TypeNames.Insert(0, 'CmSmartcard.' + $TypeName)
        $o
    }
    finally { $Object.Dispose() }
}

# Each object of a CmList as ConvertFrom-CmObject makes it; the list is disposed.
function ConvertFrom-CmList {
    param([Parameter(Mandatory = $true)] [CmSmartcard.CmList] $List, [Parameter(Mandatory = $true)] [string] $TypeName)
    try { foreach ($item in $List) { ConvertFrom-CmObject -Object $item -TypeName $TypeName } }
    finally { $List.Dispose() }
}

# The CmRequestSpec of New-CmRequest / Find-CmCreatedRequest. Omitted strings arrive as "" (= not given).
function ConvertTo-CmRequestSpec {
    param([string] $Type, [string] $ProfileTemplateUuid, [string] $SmartcardUuid, [string] $TargetUserUuid, [string] $Comment,
          [int] $Priority = -1, [System.Collections.IDictionary] $DataCollection)
    $spec = New-Object CmSmartcard.CmRequestSpec
    $spec.Type = $Type
    $spec.ProfileTemplateUuid = $ProfileTemplateUuid
    $spec.SmartcardUuid = $SmartcardUuid
    $spec.TargetUserUuid = $TargetUserUuid
    $spec.Comment = $Comment
    $spec.Priority = $Priority
    if ($DataCollection) {
        foreach ($k in $DataCollection.Keys) { [void]$spec.AddData([string]$k, [string]$DataCollection[$k]) }
    }
    $spec
}

# Hex text (validated by the caller) to one byte array, and back.
function ConvertFrom-CmHex {
    param([Parameter(Mandatory = $true)] [string] $Hex)
    $bytes = New-Object byte[] ($Hex.Length / 2)
    for ($i = 0; $i -lt $bytes.Length; $i++) { $bytes[$i] = [Convert]::ToByte($Hex.Substring(2 * $i, 2), 16) }
    , $bytes
}

function ConvertTo-CmHex {
    param([Parameter(Mandatory = $true)] [byte[]] $Bytes)
    [BitConverter]::ToString($Bytes).Replace('-', '')
}

# Reports a failed state-changing call of the enrollment flow. CmServerUnverifiedResultException: the server
# processed it, so its result goes to the pipeline, together with an error that says not to send it again.
function Write-CmChangeFailure {
    param([Parameter(Mandatory = $true)] $Cmdlet, [Parameter(Mandatory = $true)] [Exception] $Exception, [object] $TargetObject)
    if ($Exception -is [CmSmartcard.CmServerUnverifiedResultException]) {
        $r = $Exception.Result
        if ($r -is [guid]) { [pscustomobject]@{ RequestId = $r.ToString(); Uuid = $r.ToString() } } else { $r }
    }
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
Gets MIM CM requests: one by id, or a list filtered by status and by requester.
.DESCRIPTION
With -RequestId reads GET /requests/{id} (writes an ObjectNotFound error when CM does not know it); otherwise
lists GET /requests, filtered by -Status and, with -Mine, to the caller's requests (targetuser=current). Each
request has RequestId, RequestType and Status (numbers CM sends, named where documented: Enroll 1, Unblock 5,
Approved 3, Completed 8; other numbers are kept as they are), StatusName, ProfileTemplateUuid, NewSmartcardUuid
(the bound card, "" while none), Comment, Submitted and the whole object as Json. Pipeline-friendly: the output
feeds Set-CmRequestStatus, Get-CmCertificateRequestOption, Send-CmCertificateRequest, ...
.PARAMETER RequestId
The CM request id. Accepts strings and objects with a RequestId property through the pipeline.
.PARAMETER Status
List only requests in this state: Approved, Canceled, Completed, Denied, Executing, Failed, None or Pending.
.PARAMETER Mine
List only the caller's requests.
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
.EXAMPLE
Get-CmRequest -Session $s -Status Pending | Set-CmRequestStatus -Session $s -Status Canceled -WhatIf
.EXAMPLE
Get-CmRequest -Session $s -Mine | Format-Table RequestId, RequestType, Status, Submitted
.INPUTS
Strings (request ids) and objects with a RequestId property.
.OUTPUTS
CmSmartcard.CmRequestInfo
#>
function Get-CmRequest {
    [CmdletBinding(DefaultParameterSetName = 'List')]
    [OutputType('CmSmartcard.CmRequestInfo')]
    param(
        [Parameter(Mandatory = $true, Position = 0, ParameterSetName = 'ById', ValueFromPipeline = $true, ValueFromPipelineByPropertyName = $true)]
        [Alias('Id')] [ValidateNotNullOrEmpty()] [string] $RequestId,
        [Parameter(ParameterSetName = 'List')]
        [ValidateSet('Approved', 'Canceled', 'Completed', 'Denied', 'Executing', 'Failed', 'None', 'Pending')] [string] $Status,
        [Parameter(ParameterSetName = 'List')] [switch] $Mine,
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
        if ($PSCmdlet.ParameterSetName -eq 'List') {
            try { $target.Session.ListRequests($Status, [bool]$Mine) }
            catch { $PSCmdlet.WriteError((ConvertTo-CmErrorRecord -Exception $_.Exception.GetBaseException() -TargetObject $Status)) }
            return
        }
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

<#
.SYNOPSIS
Lists the MIM CM profile templates.
.DESCRIPTION
Reads GET /profiletemplates: Name, Description, Uuid, IsSmartcardProfileTemplate, IsVirtualSmartcardProfileTemplate
and the whole object as Json. -Name filters by name (wildcards allowed).
.PARAMETER Name
Only templates whose name matches (wildcards allowed, case-insensitive).
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
Get-CmProfileTemplate -Session $s
.EXAMPLE
$template = Get-CmProfileTemplate -Session $s -Name 'Smartcard User'
.OUTPUTS
CmSmartcard.CmProfileTemplateInfo
#>
function Get-CmProfileTemplate {
    [CmdletBinding()]
    [OutputType('CmSmartcard.CmProfileTemplateInfo')]
    param(
        [Parameter(Position = 0)] [SupportsWildcards()] [string] $Name,
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
            foreach ($t in $target.Session.ListProfileTemplates()) {
                if (-not $Name -or $t.Name -like $Name) { $t }
            }
        }
        catch {
            $PSCmdlet.WriteError((ConvertTo-CmErrorRecord -Exception $_.Exception.GetBaseException() -TargetObject $Name))
        }
    }
    end {
        if ($target.Owned) { $target.Session.Dispose() }
    }
}

<#
.SYNOPSIS
Gets a profile template's workflow policy for a request type.
.DESCRIPTION
Reads GET /profiletemplates/{id}/policies/{type} (the library falls back to the /policy/workflow/{type} form):
Enabled, ApprovalsNeeded, PolicyDataCollection (the data items a request must collect), CollectComments, ...
Returned as an object with CM's properties plus TemplateUuid, PolicyType and Json. A template CM does not know
gives an ObjectNotFound error.
.PARAMETER TemplateUuid
The profile template's uuid. Accepts template objects (Uuid) from Get-CmProfileTemplate through the pipeline.
.PARAMETER Type
The request type: Enroll, Duplicate, OfflineUnblock, OnlineUpdate, Renew, Recover, RecoverOnBehalf, Reinstate,
Retire, Revoke, TemporaryEnroll (TemporaryCards) or Unblock.
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
Get-CmProfileTemplate -Session $s -Name 'Smartcard User' | Get-CmProfileTemplatePolicy -Session $s -Type Enroll
.EXAMPLE
(Get-CmProfileTemplatePolicy -Session $s -TemplateUuid $t -Type Enroll).PolicyDataCollection | Where-Object Required
.INPUTS
Objects with a TemplateUuid, ProfileTemplateUuid or Uuid property.
.OUTPUTS
PSCustomObject (CmSmartcard.Policy)
#>
function Get-CmProfileTemplatePolicy {
    [CmdletBinding()]
    [OutputType([pscustomobject])]
    param(
        [Parameter(Mandatory = $true, ValueFromPipelineByPropertyName = $true)] [Alias('ProfileTemplateUuid', 'Uuid')]
        [ValidateNotNullOrEmpty()] [string] $TemplateUuid,
        [Parameter(Mandatory = $true)]
        [ValidateSet('Enroll', 'Duplicate', 'OfflineUnblock', 'OnlineUpdate', 'Renew', 'Recover', 'RecoverOnBehalf', 'Reinstate', 'Retire', 'Revoke', 'TemporaryCards', 'TemporaryEnroll', 'Unblock')]
        [string] $Type,
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
            $o = $target.Session.GetProfileTemplatePolicy($TemplateUuid, $Type)
            if ($null -eq $o) { Write-CmNotFound -Cmdlet $PSCmdlet -What "profile template '$TemplateUuid'" -Target $TemplateUuid }
            else { ConvertFrom-CmObject -Object $o -TypeName 'Policy' -Extra ([ordered]@{ TemplateUuid = $TemplateUuid; PolicyType = $Type }) }
        }
        catch {
            $PSCmdlet.WriteError((ConvertTo-CmErrorRecord -Exception $_.Exception.GetBaseException() -TargetObject $TemplateUuid))
        }
    }
    end {
        if ($target.Owned) { $target.Session.Dispose() }
    }
}

<#
.SYNOPSIS
Gets a profile template's smart card configuration.
.DESCRIPTION
Reads GET /profiletemplates/{id}/configuration/smartcards: DefaultAdminKeyHex, DiversifyAdminKey, UserPinOption,
ServerProposedPin, AdminPinPolicy, ... as an object with CM's properties plus TemplateUuid and Json.
DefaultAdminKeyHex is the template's default card admin key: treat the output as a secret.
.PARAMETER TemplateUuid
The profile template's uuid. Accepts template objects (Uuid) through the pipeline.
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
Get-CmProfileTemplate -Session $s -Name 'Smartcard User' | Get-CmSmartcardConfiguration -Session $s
.INPUTS
Objects with a TemplateUuid, ProfileTemplateUuid or Uuid property.
.OUTPUTS
PSCustomObject (CmSmartcard.SmartcardConfig)
#>
function Get-CmSmartcardConfiguration {
    [CmdletBinding()]
    [OutputType([pscustomobject])]
    param(
        [Parameter(Mandatory = $true, Position = 0, ValueFromPipelineByPropertyName = $true)] [Alias('ProfileTemplateUuid', 'Uuid')]
        [ValidateNotNullOrEmpty()] [string] $TemplateUuid,
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
            $o = $target.Session.GetSmartcardConfig($TemplateUuid)
            if ($null -eq $o) { Write-CmNotFound -Cmdlet $PSCmdlet -What "profile template '$TemplateUuid'" -Target $TemplateUuid }
            else { ConvertFrom-CmObject -Object $o -TypeName 'SmartcardConfig' -Extra ([ordered]@{ TemplateUuid = $TemplateUuid }) }
        }
        catch {
            $PSCmdlet.WriteError((ConvertTo-CmErrorRecord -Exception $_.Exception.GetBaseException() -TargetObject $TemplateUuid))
        }
    }
    end {
        if ($target.Owned) { $target.Session.Dispose() }
    }
}

<#
.SYNOPSIS
Creates a MIM CM request (Enroll, Unblock, Retire, ...).
.DESCRIPTION
Sends POST /requests and writes the new request (read back with GET /requests/{id}). The POST is sent at most once:
when the outcome is unknown (error CmOutcomeUnknown) the request may or may not exist; run Find-CmCreatedRequest
with the same parameters and -SubmittedAfter (a time before the attempt) before trying again. Enroll names the
profile template; Unblock, Retire, Revoke, ... name the card with -SmartcardUuid (the template is then the card's).
.PARAMETER Type
The request type: Enroll, Duplicate, OfflineUnblock, OnlineUpdate, Renew, Recover, RecoverOnBehalf, Reinstate,
Retire, Revoke, TemporaryCards or Unblock.
.PARAMETER ProfileTemplateUuid
The profile template (Enroll). Accepts template objects (Uuid) through the pipeline.
.PARAMETER SmartcardUuid
The CM smartcard the request concerns (Unblock, Retire, ...).
.PARAMETER TargetUserUuid
The user the request is for; omitted: the caller.
.PARAMETER Comment
The request's comment.
.PARAMETER Priority
The request's priority; omitted: the policy's default.
.PARAMETER DataCollection
The data items the policy collects, as a hashtable of name = value (use [ordered]@{...} to keep the order).
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
$req = New-CmRequest -Session $s -Type Enroll -ProfileTemplateUuid $template.Uuid -DataCollection @{ 'Employee Number' = '4711' }
.EXAMPLE
New-CmRequest -Session $s -Type Unblock -SmartcardUuid $card.Uuid -Comment 'forgot the PIN'
.EXAMPLE
Get-CmProfileTemplate -Session $s -Name 'Smartcard User' | New-CmRequest -Session $s -Type Enroll -WhatIf
.INPUTS
Objects with a ProfileTemplateUuid / Uuid or SmartcardUuid property.
.OUTPUTS
CmSmartcard.CmRequestInfo
#>
function New-CmRequest {
    [CmdletBinding(SupportsShouldProcess = $true, ConfirmImpact = 'Medium')]
    [OutputType('CmSmartcard.CmRequestInfo')]
    param(
        [Parameter(Mandatory = $true)]
        [ValidateSet('Enroll', 'Duplicate', 'OfflineUnblock', 'OnlineUpdate', 'Renew', 'Recover', 'RecoverOnBehalf', 'Reinstate', 'Retire', 'Revoke', 'TemporaryCards', 'Unblock')]
        [string] $Type,
        [Parameter(ValueFromPipelineByPropertyName = $true)] [Alias('Uuid', 'TemplateUuid')] [string] $ProfileTemplateUuid,
        [Parameter(ValueFromPipelineByPropertyName = $true)] [string] $SmartcardUuid,
        [string] $TargetUserUuid,
        [string] $Comment,
        [ValidateRange(0, 2147483647)] [int] $Priority = -1,
        [System.Collections.IDictionary] $DataCollection,
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
        $what = if ($SmartcardUuid) { "smartcard $SmartcardUuid" } else { "profile template $ProfileTemplateUuid" }
        if (-not $PSCmdlet.ShouldProcess($what, "Create a $Type request")) { return }
        try {
            $spec = ConvertTo-CmRequestSpec -Type $Type -ProfileTemplateUuid $ProfileTemplateUuid -SmartcardUuid $SmartcardUuid -TargetUserUuid $TargetUserUuid -Comment $Comment -Priority $Priority -DataCollection $DataCollection
            $id = $target.Session.CreateRequest($spec).ToString()
        }
        catch {
            Write-CmChangeFailure -Cmdlet $PSCmdlet -Exception $_.Exception.GetBaseException() -TargetObject $what
            return
        }
        $r = $null
        try { $r = $target.Session.GetRequest($id) }
        catch { Write-Warning "Request $id was created, but reading it back failed: $($_.Exception.GetBaseException().Message)" }
        if ($null -ne $r) { $r } else { [pscustomobject]@{ RequestId = $id; Uuid = $id } }
    }
    end {
        if ($target.Owned) { $target.Session.Dispose() }
    }
}

<#
.SYNOPSIS
Finds the request an interrupted New-CmRequest may have created.
.DESCRIPTION
After New-CmRequest failed with CmOutcomeUnknown: lists the caller's requests (GET only) and writes those that match
the type, template, target and comment and were submitted at or after -SubmittedAfter (5 minutes of clock skew
allowed). Nothing written: the request was not created and New-CmRequest may be run again.
.PARAMETER Type
The request type given to New-CmRequest.
.PARAMETER ProfileTemplateUuid
The profile template given to New-CmRequest.
.PARAMETER SmartcardUuid
The smartcard given to New-CmRequest.
.PARAMETER TargetUserUuid
The target user given to New-CmRequest.
.PARAMETER Comment
The comment given to New-CmRequest.
.PARAMETER SubmittedAfter
A time before the New-CmRequest attempt.
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
$t0 = Get-Date
try { $req = New-CmRequest -Session $s -Type Enroll -ProfileTemplateUuid $tpl -Comment $c -ErrorAction Stop }
catch { $req = Find-CmCreatedRequest -Session $s -Type Enroll -ProfileTemplateUuid $tpl -Comment $c -SubmittedAfter $t0 }
.INPUTS
Objects with a ProfileTemplateUuid / TemplateUuid or SmartcardUuid property.
.OUTPUTS
CmSmartcard.CmRequestInfo
#>
function Find-CmCreatedRequest {
    [CmdletBinding()]
    [OutputType('CmSmartcard.CmRequestInfo')]
    param(
        [Parameter(Mandatory = $true)]
        [ValidateSet('Enroll', 'Duplicate', 'OfflineUnblock', 'OnlineUpdate', 'Renew', 'Recover', 'RecoverOnBehalf', 'Reinstate', 'Retire', 'Revoke', 'TemporaryCards', 'Unblock')]
        [string] $Type,
        [Parameter(ValueFromPipelineByPropertyName = $true)] [Alias('TemplateUuid')] [string] $ProfileTemplateUuid,
        [Parameter(ValueFromPipelineByPropertyName = $true)] [string] $SmartcardUuid,
        [string] $TargetUserUuid,
        [string] $Comment,
        [Parameter(Mandatory = $true)] [datetime] $SubmittedAfter,
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
            $spec = ConvertTo-CmRequestSpec -Type $Type -ProfileTemplateUuid $ProfileTemplateUuid -SmartcardUuid $SmartcardUuid -TargetUserUuid $TargetUserUuid -Comment $Comment -Priority -1 -DataCollection $null
            $target.Session.FindCreatedRequests($spec, $SubmittedAfter.ToUniversalTime())
        }
        catch {
            $PSCmdlet.WriteError((ConvertTo-CmErrorRecord -Exception $_.Exception.GetBaseException() -TargetObject $Type))
        }
    }
    end {
        if ($target.Owned) { $target.Session.Dispose() }
    }
}

<#
.SYNOPSIS
Completes, cancels or abandons a MIM CM request.
.DESCRIPTION
Sends PUT /requests/{id} with the new status and writes the updated request. Completing an Enroll request
activates its card. The PUT is sent at most once: after CmOutcomeUnknown, Get-CmRequest shows whether it took effect.
.PARAMETER RequestId
The CM request id. Accepts request objects (RequestId) through the pipeline, e.g. from Get-CmRequest -Status Pending.
.PARAMETER Status
Completed, Canceled or Abandoned.
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
Set-CmRequestStatus -Session $s -RequestId $req.RequestId -Status Completed
.EXAMPLE
Get-CmRequest -Session $s -Status Pending | Set-CmRequestStatus -Session $s -Status Canceled -WhatIf
.INPUTS
Objects with a RequestId property.
.OUTPUTS
CmSmartcard.CmRequestInfo
#>
function Set-CmRequestStatus {
    [CmdletBinding(SupportsShouldProcess = $true, ConfirmImpact = 'Medium')]
    [OutputType('CmSmartcard.CmRequestInfo')]
    param(
        [Parameter(Mandatory = $true, Position = 0, ValueFromPipeline = $true, ValueFromPipelineByPropertyName = $true)]
        [ValidateNotNullOrEmpty()] [string] $RequestId,
        [Parameter(Mandatory = $true)] [ValidateSet('Completed', 'Canceled', 'Abandoned')] [string] $Status,
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
        if (-not $PSCmdlet.ShouldProcess("CM request $RequestId", "Set the status to $Status")) { return }
        try { $target.Session.SetRequestStatus($RequestId, $Status) }
        catch { Write-CmChangeFailure -Cmdlet $PSCmdlet -Exception $_.Exception.GetBaseException() -TargetObject $RequestId }
    }
    end {
        if ($target.Owned) { $target.Session.Dispose() }
    }
}

<#
.SYNOPSIS
Gets the admin key of a smart card bound to a request.
.DESCRIPTION
Reads GET /requests/{rid}/smartcards/{sid}/diversifiedkey: the card's 24-byte 3DES admin key, diversified for the
card id (templates with DiversifyAdminKey). Writes the key as one byte array. It is a secret: clear it when done
([Array]::Clear($key, 0, $key.Length)) and never log it.
.PARAMETER RequestId
The CM request the card is bound to. Accepts objects with RequestId through the pipeline.
.PARAMETER SmartcardUuid
The CM smartcard uuid (Register-CmSmartcard's SmartcardUuid).
.PARAMETER CardId
The card id (Get-CmCardId).
.PARAMETER Atr
The card's ATR (optional).
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
$key = Get-CmAdminKey -Session $s -RequestId $req.RequestId -SmartcardUuid $bound.SmartcardUuid -CardId $cardId
try { Write-Host "admin key: $($key.Length) bytes" } finally { [Array]::Clear($key, 0, $key.Length) }
.INPUTS
Objects with RequestId, SmartcardUuid and CardId properties (e.g. Register-CmSmartcard's result).
.OUTPUTS
System.Byte[]
#>
function Get-CmAdminKey {
    [CmdletBinding()]
    [OutputType([byte[]])]
    param(
        [Parameter(Mandatory = $true, ValueFromPipelineByPropertyName = $true)] [ValidateNotNullOrEmpty()] [string] $RequestId,
        [Parameter(Mandatory = $true, ValueFromPipelineByPropertyName = $true)] [ValidateNotNullOrEmpty()] [string] $SmartcardUuid,
        [Parameter(Mandatory = $true, ValueFromPipelineByPropertyName = $true)] [ValidateNotNullOrEmpty()] [string] $CardId,
        [Parameter(ValueFromPipelineByPropertyName = $true)] [string] $Atr,
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
        try { Write-Output -NoEnumerate $target.Session.GetAdminKey($RequestId, $SmartcardUuid, $CardId, $Atr) }
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
Gets CM's answer to a smart card's admin challenge (Base CSP challenge/response).
.DESCRIPTION
Reads GET /requests/{rid}/smartcards/{sid}/authenticationresponse: CM encrypts the card's 8-byte challenge with
3DES-ECB under the card's admin key (-Diversified: the diversified key; otherwise the template's default key).
Base64 and URL escaping are done for you. Give the challenge as bytes (-Challenge) or as hex (-ChallengeHex, as
the MIM walkthrough shows it). Works for Enroll and Unblock requests.
.PARAMETER RequestId
The CM request (Enroll or Unblock). Accepts objects with RequestId through the pipeline.
.PARAMETER SmartcardUuid
The CM smartcard uuid.
.PARAMETER CardId
The card id (Get-CmCardId).
.PARAMETER Atr
The card's ATR (optional).
.PARAMETER Challenge
The card's challenge as bytes (8 bytes for Base CSP cards).
.PARAMETER ChallengeHex
The card's challenge as hex, e.g. 'D61143F9CCFFD2CA'.
.PARAMETER Diversified
Answer under the diversified admin key (templates with DiversifyAdminKey).
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
$r = Get-CmAuthenticationResponse -Session $s -RequestId $req -SmartcardUuid $sc -CardId $cardId -ChallengeHex 'D61143F9CCFFD2CA' -Diversified
$r.ResponseHex
.INPUTS
Objects with RequestId, SmartcardUuid and CardId properties (e.g. Register-CmSmartcard's result).
.OUTPUTS
PSCustomObject with RequestId, SmartcardUuid, Diversified, Challenge, Response (bytes), ResponseHex, ResponseBase64.
#>
function Get-CmAuthenticationResponse {
    [CmdletBinding(DefaultParameterSetName = 'Bytes')]
    [OutputType([pscustomobject])]
    param(
        [Parameter(Mandatory = $true, ValueFromPipelineByPropertyName = $true)] [ValidateNotNullOrEmpty()] [string] $RequestId,
        [Parameter(Mandatory = $true, ValueFromPipelineByPropertyName = $true)] [ValidateNotNullOrEmpty()] [string] $SmartcardUuid,
        [Parameter(Mandatory = $true, ValueFromPipelineByPropertyName = $true)] [ValidateNotNullOrEmpty()] [string] $CardId,
        [Parameter(ValueFromPipelineByPropertyName = $true)] [string] $Atr,
        [Parameter(Mandatory = $true, ParameterSetName = 'Bytes')] [ValidateNotNullOrEmpty()] [byte[]] $Challenge,
        [Parameter(Mandatory = $true, ParameterSetName = 'Hex')] [ValidatePattern('^([0-9A-Fa-f]{2})+$')] [string] $ChallengeHex,
        [switch] $Diversified,
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
            $bytes = if ($PSCmdlet.ParameterSetName -eq 'Hex') { ConvertFrom-CmHex -Hex $ChallengeHex } else { $Challenge }
            $response = $target.Session.GetAuthenticationResponse($RequestId, $SmartcardUuid, $CardId, $Atr, $bytes, [bool]$Diversified)
            [pscustomobject]@{
                PSTypeName     = 'CmSmartcard.AuthenticationResponse'
                RequestId      = $RequestId
                SmartcardUuid  = $SmartcardUuid
                Diversified    = [bool]$Diversified
                Challenge      = $bytes
                Response       = $response
                ResponseHex    = ConvertTo-CmHex -Bytes $response
                ResponseBase64 = [Convert]::ToBase64String($response)
            }
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
Gets the PIN CM proposes for a smart card.
.DESCRIPTION
Reads GET /requests/{rid}/smartcards/{sid}/serverproposedpin (or /smartcards/{sid}/serverproposedpin without
-RequestId), for templates with ServerProposedPin. Writes a SecureString; -AsPlainText writes a string instead.
.PARAMETER RequestId
The CM request (optional). Accepts objects with RequestId through the pipeline.
.PARAMETER SmartcardUuid
The CM smartcard uuid.
.PARAMETER CardId
The card id (Get-CmCardId).
.PARAMETER Atr
The card's ATR (optional).
.PARAMETER AsPlainText
Write the PIN as a plain string (it cannot be wiped from memory then).
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
$pin = Get-CmServerProposedPin -Session $s -RequestId $req -SmartcardUuid $sc -CardId $cardId
.EXAMPLE
Get-CmServerProposedPin -Session $s -SmartcardUuid $sc -CardId $cardId -AsPlainText
.INPUTS
Objects with SmartcardUuid and CardId (and RequestId) properties.
.OUTPUTS
System.Security.SecureString, or System.String with -AsPlainText
#>
function Get-CmServerProposedPin {
    [CmdletBinding()]
    [OutputType([System.Security.SecureString], [string])]
    param(
        [Parameter(ValueFromPipelineByPropertyName = $true)] [string] $RequestId,
        [Parameter(Mandatory = $true, ValueFromPipelineByPropertyName = $true)] [ValidateNotNullOrEmpty()] [string] $SmartcardUuid,
        [Parameter(Mandatory = $true, ValueFromPipelineByPropertyName = $true)] [ValidateNotNullOrEmpty()] [string] $CardId,
        [Parameter(ValueFromPipelineByPropertyName = $true)] [string] $Atr,
        [switch] $AsPlainText,
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
            $pin = $target.Session.GetServerProposedPin($RequestId, $SmartcardUuid, $CardId, $Atr)
            if ($AsPlainText) {
                $bstr = [System.Runtime.InteropServices.Marshal]::SecureStringToBSTR($pin)
                try { [System.Runtime.InteropServices.Marshal]::PtrToStringBSTR($bstr) }
                finally { [System.Runtime.InteropServices.Marshal]::ZeroFreeBSTR($bstr); $pin.Dispose() }
            }
            else { $pin }
        }
        catch {
            $PSCmdlet.WriteError((ConvertTo-CmErrorRecord -Exception $_.Exception.GetBaseException() -TargetObject $SmartcardUuid))
        }
    }
    end {
        if ($target.Owned) { $target.Session.Dispose() }
    }
}

<#
.SYNOPSIS
Gets the certificate requests to build for a MIM CM request.
.DESCRIPTION
Reads GET /requests/{id}/certificaterequestgenerationoptions: one object per PKCS#10 request to build, with
Subject, KeyAlgorithmName, KeySize, HashAlgorithmName, KeyStorageProviderNames, KeyUsages, Exportable,
KeyProtectionLevel and Json. Nothing is written for templates with server-generated keys.
.PARAMETER RequestId
The CM request id. Accepts objects with RequestId through the pipeline.
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
Get-CmCertificateRequestOption -Session $s -RequestId $req.RequestId | Format-Table Subject, KeyAlgorithmName, KeySize
.INPUTS
Objects with a RequestId property.
.OUTPUTS
CmSmartcard.CmCsrOption
#>
function Get-CmCertificateRequestOption {
    [CmdletBinding()]
    [OutputType('CmSmartcard.CmCsrOption')]
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
        try { $target.Session.GetCsrOptions($RequestId) }
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
Submits PKCS#10 certificate requests to MIM CM and gets the issued certificates.
.DESCRIPTION
Sends POST /requests/{id}/certificatedata with one PKCS#10 request per option of Get-CmCertificateRequestOption,
in the same order (files with -Path, DER or PEM; or bytes with -CertificateRequest; none for templates with
server-generated keys). Writes one object per certificate CM returns (it may return more than requested): Pkcs7
and Pfx as bytes, TemplateCommonName, IsPfx, IsKeyHistory, Error, Json. CM returns certificate data once: the
POST is sent at most once, and after CmOutcomeUnknown it cannot be sent again (look at Get-CmSmartcardCertificate).
.PARAMETER RequestId
The CM request (Approved or Executing, its card bound). Accepts objects with RequestId through the pipeline.
.PARAMETER Path
PKCS#10 request files (DER or PEM), in the order of the options.
.PARAMETER CertificateRequest
PKCS#10 requests as byte arrays (one byte array, or several), in the order of the options.
.PARAMETER PfxPassword
The password CM encrypts server-generated keys (PFX) under.
.PARAMETER Comment
A comment for the certificate data.
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
$certs = Send-CmCertificateRequest -Session $s -RequestId $req.RequestId -Path .\sign.csr, .\enc.csr
[IO.File]::WriteAllBytes("$PWD\sign.p7b", $certs[0].Pkcs7)
.EXAMPLE
Send-CmCertificateRequest -Session $s -RequestId $req.RequestId -PfxPassword (Read-Host -AsSecureString 'PFX password')
.INPUTS
Objects with a RequestId property.
.OUTPUTS
CmSmartcard.CmCertificateData
#>
function Send-CmCertificateRequest {
    [CmdletBinding(SupportsShouldProcess = $true, ConfirmImpact = 'Medium', DefaultParameterSetName = 'Path')]
    [OutputType('CmSmartcard.CmCertificateData')]
    param(
        [Parameter(Mandatory = $true, ValueFromPipelineByPropertyName = $true)] [ValidateNotNullOrEmpty()] [string] $RequestId,
        [Parameter(ParameterSetName = 'Path', Position = 0)] [string[]] $Path,
        [Parameter(Mandatory = $true, ParameterSetName = 'Bytes')] [ValidateNotNullOrEmpty()] [object[]] $CertificateRequest,
        [System.Security.SecureString] $PfxPassword,
        [string] $Comment,
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
            # byte[][] is built through a List: one byte array given alone binds as an array of bytes.
            $list = New-Object 'System.Collections.Generic.List[byte[]]'
            if ($PSCmdlet.ParameterSetName -eq 'Bytes') {
                if ($CertificateRequest[0] -is [byte]) { $list.Add([byte[]]$CertificateRequest) }
                else { foreach ($c in $CertificateRequest) { $list.Add([byte[]]$c) } }
            }
            else {
                foreach ($p in @($Path | Where-Object { $_ })) { $list.Add([System.IO.File]::ReadAllBytes((Resolve-Path -LiteralPath $p -ErrorAction Stop).ProviderPath)) }
            }
            $csrs = $list.ToArray()
            if (-not $PSCmdlet.ShouldProcess("CM request $RequestId", "Submit $($csrs.Length) certificate request(s) (certificate data is returned once)")) { return }
            # Two overloads take the password (string, SecureString): pick one explicitly ("" = no password).
            if ($PfxPassword) { $target.Session.SubmitCertificateRequests($RequestId, $csrs, [System.Security.SecureString]$PfxPassword, $Comment) }
            else { $target.Session.SubmitCertificateRequests($RequestId, $csrs, [string]'', $Comment) }
        }
        catch { Write-CmChangeFailure -Cmdlet $PSCmdlet -Exception $_.Exception.GetBaseException() -TargetObject $RequestId }
    }
    end {
        if ($target.Owned) { $target.Session.Dispose() }
    }
}

<#
.SYNOPSIS
Sets the status of a smart card through a MIM CM request (retire, disable, suspend, activate).
.DESCRIPTION
Sends PUT /requests/{rid}/smartcards/{sid} with the new status and writes the updated smartcard. The request must
be Approved or Executing and concern that card (e.g. a Retire request). Sent at most once: after
CmOutcomeUnknown, Get-CmSmartcard shows whether it took effect.
.PARAMETER RequestId
The CM request (e.g. a Retire request for the card). Accepts objects with RequestId through the pipeline.
.PARAMETER SmartcardUuid
The CM smartcard uuid.
.PARAMETER Status
Active, Assigned, Disabled, New, None, Retired or Suspended (CM decides which it allows).
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
$retire = New-CmRequest -Session $s -Type Retire -SmartcardUuid $sc
Set-CmSmartcardStatus -Session $s -RequestId $retire.RequestId -SmartcardUuid $sc -Status Retired
.INPUTS
Objects with RequestId and SmartcardUuid properties.
.OUTPUTS
CmSmartcard.CmSmartcardInfo
#>
function Set-CmSmartcardStatus {
    [CmdletBinding(SupportsShouldProcess = $true, ConfirmImpact = 'High')]
    [OutputType('CmSmartcard.CmSmartcardInfo')]
    param(
        [Parameter(Mandatory = $true, ValueFromPipelineByPropertyName = $true)] [ValidateNotNullOrEmpty()] [string] $RequestId,
        [Parameter(Mandatory = $true, ValueFromPipelineByPropertyName = $true)] [ValidateNotNullOrEmpty()] [string] $SmartcardUuid,
        [Parameter(Mandatory = $true)] [ValidateSet('Active', 'Assigned', 'Disabled', 'New', 'None', 'Retired', 'Suspended')] [string] $Status,
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
        if (-not $PSCmdlet.ShouldProcess("smartcard $SmartcardUuid (request $RequestId)", "Set the status to $Status")) { return }
        try { $target.Session.SetSmartcardStatus($RequestId, $SmartcardUuid, $Status) }
        catch { Write-CmChangeFailure -Cmdlet $PSCmdlet -Exception $_.Exception.GetBaseException() -TargetObject $SmartcardUuid }
    }
    end {
        if ($target.Owned) { $target.Session.Dispose() }
    }
}

<#
.SYNOPSIS
Gets the operations MIM CM allows on a smart card or profile now.
.DESCRIPTION
Reads GET /smartcards/{id}/operations (or /profiles/{id}/operations with -ProfileUuid): lower-case names such as
renew, unblock, retire, revoke, onlineupdate. Nothing is written when none is allowed.
.PARAMETER SmartcardUuid
The CM smartcard uuid. Accepts smartcard objects (Uuid) through the pipeline.
.PARAMETER ProfileUuid
A CM profile uuid instead.
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
Get-CmSmartcardOperation -Session $s -SmartcardUuid $sc
.EXAMPLE
if ((Get-CmSmartcardOperation -Session $s -SmartcardUuid $sc) -contains 'unblock') { 'can unblock' }
.INPUTS
Objects with a SmartcardUuid or Uuid property.
.OUTPUTS
System.String
#>
function Get-CmSmartcardOperation {
    [CmdletBinding(DefaultParameterSetName = 'Smartcard')]
    [OutputType([string])]
    param(
        [Parameter(Mandatory = $true, Position = 0, ParameterSetName = 'Smartcard', ValueFromPipelineByPropertyName = $true)] [Alias('Uuid')]
        [ValidateNotNullOrEmpty()] [string] $SmartcardUuid,
        [Parameter(Mandatory = $true, ParameterSetName = 'Profile', ValueFromPipelineByPropertyName = $true)] [ValidateNotNullOrEmpty()] [string] $ProfileUuid,
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
        $key = if ($PSCmdlet.ParameterSetName -eq 'Profile') { $ProfileUuid } else { $SmartcardUuid }
        try {
            if ($PSCmdlet.ParameterSetName -eq 'Profile') { $target.Session.GetProfileOperations($ProfileUuid) }
            else { $target.Session.GetSmartcardOperations($SmartcardUuid) }
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
Gets the certificates MIM CM issued for a smart card or profile.
.DESCRIPTION
Reads GET /smartcards/{id}/certificates (or /profiles/{id}/certificates with -ProfileUuid): IsKeyHistory,
ArchivedOnCa, CertificateType, TemplateCommonName, SerialNumber, Thumbprint and Json.
.PARAMETER SmartcardUuid
The CM smartcard uuid. Accepts smartcard objects (Uuid) through the pipeline.
.PARAMETER ProfileUuid
A CM profile uuid instead.
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
Get-CmSmartcardCertificate -Session $s -SmartcardUuid $sc | Format-Table TemplateCommonName, SerialNumber, Thumbprint
.INPUTS
Objects with a SmartcardUuid or Uuid property.
.OUTPUTS
PSCustomObject (CmSmartcard.CardCertificate)
#>
function Get-CmSmartcardCertificate {
    [CmdletBinding(DefaultParameterSetName = 'Smartcard')]
    [OutputType([pscustomobject])]
    param(
        [Parameter(Mandatory = $true, Position = 0, ParameterSetName = 'Smartcard', ValueFromPipelineByPropertyName = $true)] [Alias('Uuid')]
        [ValidateNotNullOrEmpty()] [string] $SmartcardUuid,
        [Parameter(Mandatory = $true, ParameterSetName = 'Profile', ValueFromPipelineByPropertyName = $true)] [ValidateNotNullOrEmpty()] [string] $ProfileUuid,
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
        $key = if ($PSCmdlet.ParameterSetName -eq 'Profile') { $ProfileUuid } else { $SmartcardUuid }
        try {
            $list = if ($PSCmdlet.ParameterSetName -eq 'Profile') { $target.Session.GetProfileCertificates($ProfileUuid) }
                    else { $target.Session.GetSmartcardCertificates($SmartcardUuid) }
            ConvertFrom-CmList -List $list -TypeName 'CardCertificate'
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
Gets the caller's certificates from MIM CM.
.DESCRIPTION
Reads GET /certificates: the certificates of the authenticated user (retired ones filtered out by CM), with
TemplateCommonName, SerialNumber, Thumbprint, Issuer, NotBefore, NotAfter, RequesterName, Status and Json.
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
Get-CmUserCertificate -Session $s | Where-Object { [datetime]$_.NotAfter -lt (Get-Date).AddDays(30) }
.OUTPUTS
PSCustomObject (CmSmartcard.UserCertificate)
#>
function Get-CmUserCertificate {
    [CmdletBinding()]
    [OutputType([pscustomobject])]
    param(
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
        try { ConvertFrom-CmList -List $target.Session.GetUserCertificates() -TypeName 'UserCertificate' }
        catch {
            $PSCmdlet.WriteError((ConvertTo-CmErrorRecord -Exception $_.Exception.GetBaseException() -TargetObject $null))
        }
    }
    end {
        if ($target.Owned) { $target.Session.Dispose() }
    }
}

<#
.SYNOPSIS
Gets MIM CM profiles: all, by status, by uuid, or those of a request.
.DESCRIPTION
Reads GET /profiles[?status=], /profiles/{id} (-ProfileUuid) or /requests/{id}/profiles (-RequestId): Uuid,
Status, Flags, AssignedUserUuid, ProfileTemplateUuid, ProfileOperations, ... and Json.
.PARAMETER ProfileUuid
One profile by uuid.
.PARAMETER RequestId
The profiles of a request. Accepts objects with RequestId through the pipeline.
.PARAMETER Status
Only profiles in this state: Active, Approved, Canceled, Completed, Denied, Executing, Failed, None or Pending.
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
Get-CmProfile -Session $s -Status Active
.EXAMPLE
Get-CmRequest -Session $s -RequestId $req | Get-CmProfile -Session $s
.INPUTS
Objects with a RequestId property.
.OUTPUTS
PSCustomObject (CmSmartcard.Profile)
#>
function Get-CmProfile {
    [CmdletBinding(DefaultParameterSetName = 'List')]
    [OutputType([pscustomobject])]
    param(
        [Parameter(Mandatory = $true, Position = 0, ParameterSetName = 'ById')] [ValidateNotNullOrEmpty()] [string] $ProfileUuid,
        [Parameter(Mandatory = $true, ParameterSetName = 'ByRequest', ValueFromPipelineByPropertyName = $true)] [ValidateNotNullOrEmpty()] [string] $RequestId,
        [Parameter(ParameterSetName = 'List')]
        [ValidateSet('Active', 'Approved', 'Canceled', 'Completed', 'Denied', 'Executing', 'Failed', 'None', 'Pending')] [string] $Status,
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
            switch ($PSCmdlet.ParameterSetName) {
                'ById' {
                    $o = $target.Session.GetProfile($ProfileUuid)
                    if ($null -eq $o) { Write-CmNotFound -Cmdlet $PSCmdlet -What "profile '$ProfileUuid'" -Target $ProfileUuid }
                    else { ConvertFrom-CmObject -Object $o -TypeName 'Profile' }
                }
                'ByRequest' { ConvertFrom-CmList -List $target.Session.ListRequestProfiles($RequestId) -TypeName 'Profile' }
                default { ConvertFrom-CmList -List $target.Session.ListProfiles($Status) -TypeName 'Profile' }
            }
        }
        catch {
            $PSCmdlet.WriteError((ConvertTo-CmErrorRecord -Exception $_.Exception.GetBaseException() -TargetObject $RequestId))
        }
    }
    end {
        if ($target.Owned) { $target.Session.Dispose() }
    }
}

Export-ModuleMember -Function Get-CmLibraryVersion, New-CmConnection, New-CmSession, Close-CmSession, Register-CmSmartcard, Test-CmSmartcardAssignment, Get-CmSmartcard, Get-CmRequest, Get-CmSmartcardReader, Get-CmSmartcardAtr, Get-CmCardId, Register-CmSmartcardFromReader, Get-CmProfileTemplate, Get-CmProfileTemplatePolicy, Get-CmSmartcardConfiguration, New-CmRequest, Find-CmCreatedRequest, Set-CmRequestStatus, Get-CmAdminKey, Get-CmAuthenticationResponse, Get-CmServerProposedPin, Get-CmCertificateRequestOption, Send-CmCertificateRequest, Set-CmSmartcardStatus, Get-CmSmartcardOperation, Get-CmSmartcardCertificate, Get-CmUserCertificate, Get-CmProfile
