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
.EXAMPLE
$cm = New-CmConnection -ServerUrl https://cm.contoso.com/CertificateManagement
.EXAMPLE
$cm = New-CmConnection -ServerUrl https://cm.contoso.com -Credential (Get-Credential CONTOSO\cmagent)
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
        [string] $Spn
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
    if ($AllowInsecureHttp) { $c.AuthFlags = [CmSmartcard.CmAuthFlags]::AllowInsecureHttp }
    if ($TimeoutSec) { $c.TimeoutMs = [uint32]($TimeoutSec * 1000) }
    if ($ConnectTimeoutSec) { $c.ConnectTimeoutMs = [uint32]($ConnectTimeoutSec * 1000) }
    if ($ExtraCaFile) { $c.ExtraCaFile = (Resolve-Path -LiteralPath $ExtraCaFile -ErrorAction Stop).ProviderPath }
    if ($Spn) { $c.Spn = $Spn }
    $c
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
Test-CmSmartcardAssignment before trying again.
.PARAMETER RequestId
The CM request id (a GUID in any common form).
.PARAMETER CardId
The card id (minidriver card ID) as a GUID.
.PARAMETER Atr
The card's ATR as hex (3B 8D 01 ..., 3b:8d:..., or packed). Optional.
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
        try { $conn = Resolve-CmConnection -Bound $PSBoundParameters }
        catch { $PSCmdlet.ThrowTerminatingError((ConvertTo-CmErrorRecord -Exception $_.Exception.GetBaseException() -TargetObject $ServerUrl)) }
    }
    process {
        if (-not $PSCmdlet.ShouldProcess("CM request $RequestId", "Bind card $CardId")) { return }
        try {
            [CmSmartcard.CmApi]::AssignSmartcard($conn, $RequestId, $CardId, $Atr)
        }
        catch {
            $PSCmdlet.WriteError((ConvertTo-CmErrorRecord -Exception $_.Exception.GetBaseException() -TargetObject $RequestId))
        }
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
        try { $conn = Resolve-CmConnection -Bound $PSBoundParameters }
        catch { $PSCmdlet.ThrowTerminatingError((ConvertTo-CmErrorRecord -Exception $_.Exception.GetBaseException() -TargetObject $ServerUrl)) }
    }
    process {
        try {
            $r = [CmSmartcard.CmApi]::ReconcileAssignment($conn, $RequestId, $CardId)
            if ($Quiet) { $r.State -eq [CmSmartcard.CmBindingState]::BoundToThisCard } else { $r }
        }
        catch {
            $PSCmdlet.WriteError((ConvertTo-CmErrorRecord -Exception $_.Exception.GetBaseException() -TargetObject $RequestId))
        }
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
        [CmSmartcard.CmConnection] $Connection,
        [string] $ServerUrl,
        [System.Management.Automation.PSCredential] [System.Management.Automation.Credential()]
        $Credential = [System.Management.Automation.PSCredential]::Empty,
        [CmSmartcard.CmAuthMethod] $Authentication,
        [switch] $AllowInsecureHttp
    )
    begin {
        if (-not $Connection -and -not $ServerUrl) {
            $PSCmdlet.ThrowTerminatingError((ConvertTo-CmErrorRecord -Exception (New-Object ArgumentException 'Give -Connection or -ServerUrl.') -TargetObject $null))
        }
        try { $conn = Resolve-CmConnection -Bound $PSBoundParameters }
        catch { $PSCmdlet.ThrowTerminatingError((ConvertTo-CmErrorRecord -Exception $_.Exception.GetBaseException() -TargetObject $ServerUrl)) }
    }
    process {
        $key = if ($PSCmdlet.ParameterSetName -eq 'ByCardId') { $CardId } else { $SmartcardUuid }
        try {
            $sc = if ($PSCmdlet.ParameterSetName -eq 'ByCardId') { [CmSmartcard.CmApi]::FindSmartcard($conn, $CardId) }
                  else { [CmSmartcard.CmApi]::GetSmartcard($conn, $SmartcardUuid) }
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
}

<#
.SYNOPSIS
Gets a MIM CM request by id.
.DESCRIPTION
Reads GET /requests/{id}: Status (3 = Approved, 8 = Completed), NewSmartcardUuid (the bound card, "" while
none) and the whole object as Json. Writes an ObjectNotFound error when CM does not know the request.
.PARAMETER RequestId
The CM request id.
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
        [CmSmartcard.CmConnection] $Connection,
        [string] $ServerUrl,
        [System.Management.Automation.PSCredential] [System.Management.Automation.Credential()]
        $Credential = [System.Management.Automation.PSCredential]::Empty,
        [CmSmartcard.CmAuthMethod] $Authentication,
        [switch] $AllowInsecureHttp
    )
    begin {
        if (-not $Connection -and -not $ServerUrl) {
            $PSCmdlet.ThrowTerminatingError((ConvertTo-CmErrorRecord -Exception (New-Object ArgumentException 'Give -Connection or -ServerUrl.') -TargetObject $null))
        }
        try { $conn = Resolve-CmConnection -Bound $PSBoundParameters }
        catch { $PSCmdlet.ThrowTerminatingError((ConvertTo-CmErrorRecord -Exception $_.Exception.GetBaseException() -TargetObject $ServerUrl)) }
    }
    process {
        try {
            $r = [CmSmartcard.CmApi]::GetRequest($conn, $RequestId)
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
The reader name (exact, or a unique case-insensitive part of it). Omit it for the first reader that holds a card.
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
        try { [CmSmartcard.CmApi]::ReadCardAtr($(if ($Reader) { $Reader } else { $null })) }
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
The reader name, or omit it for the first reader that holds a card. Accepts reader objects from the pipeline.
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
        try { [CmSmartcard.CmApi]::ReadCardId($(if ($Reader) { $Reader } else { $null }), $ByteOrder) }
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
The reader name, or omit it for the first reader that holds a card.
.PARAMETER ByteOrder
Card-id byte order: Windows (default) or Rfc4122.
.PARAMETER Connection
Settings from New-CmConnection.
.EXAMPLE
$cm = New-CmConnection https://cm.contoso.com
Register-CmSmartcardFromReader -Connection $cm -RequestId $req
.OUTPUTS
CmSmartcard.CmAssignResult
#>
function Register-CmSmartcardFromReader {
    [CmdletBinding(SupportsShouldProcess = $true, ConfirmImpact = 'Medium')]
    [OutputType('CmSmartcard.CmAssignResult')]
    param(
        [Parameter(Mandatory = $true, ValueFromPipelineByPropertyName = $true)] [ValidateNotNullOrEmpty()] [string] $RequestId,
        [Parameter(ValueFromPipelineByPropertyName = $true)] [string] $Reader,
        [CmSmartcard.CmGuidOrder] $ByteOrder = [CmSmartcard.CmGuidOrder]::Windows,
        [Parameter(Mandatory = $true)] [CmSmartcard.CmConnection] $Connection
    )
    process {
        if (-not $PSCmdlet.ShouldProcess("CM request $RequestId", "Bind the card in reader '$Reader'")) { return }
        try { [CmSmartcard.CmApi]::AssignSmartcardFromReader($Connection, $RequestId, $(if ($Reader) { $Reader } else { $null }), $ByteOrder) }
        catch { $PSCmdlet.WriteError((ConvertTo-CmErrorRecord -Exception $_.Exception.GetBaseException() -TargetObject $RequestId)) }
    }
}

Export-ModuleMember -Function Get-CmLibraryVersion, New-CmConnection, Register-CmSmartcard, Test-CmSmartcardAssignment, Get-CmSmartcard, Get-CmRequest, Get-CmSmartcardReader, Get-CmSmartcardAtr, Get-CmCardId, Register-CmSmartcardFromReader
