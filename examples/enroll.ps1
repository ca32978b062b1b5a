<#
.SYNOPSIS
A smart card's whole life in MIM Certificate Management, from PowerShell (the counterpart of enroll.c).
.DESCRIPTION
The documented enrollment (sample-enrollment-walkthrough.md), step by step with the CmSmartcard module: read the
card, pick the profile template and read its Enroll policy, create the Enroll request, wait for approval, bind
the card, read the template's smart card configuration, get the card's admin key and answer an admin challenge,
get the CSR options, build the PKCS#10 requests, submit them, check the returned PKCS#7, complete the request.
Then the card's later life: an Unblock request answered with challenge/response, and a Retire.

Keys: this example makes software RSA keys with the openssl CLI, as a lab stand-in. A real enrollment generates
the keys ON the card (minidriver / CNG smart card KSP) after authenticating with the admin key; cm-smartcard only
carries the PKCS#10 requests, it never generates keys.
.PARAMETER ServerUrl
The CM URL, e.g. https://cm.contoso.com/CertificateManagement.
.PARAMETER TemplateName
The profile template to enroll with (default "Smartcard User").
.PARAMETER Reader
The PC/SC reader (default: the first one that holds a card).
.PARAMETER CardId
Use this card id instead of reading a card (labs without a reader); -Atr gives its ATR.
.PARAMETER Atr
The card's ATR when -CardId is given.
.PARAMETER CaPem
The issuing CA's certificate (PEM): the issued certificates are verified against it with openssl.
.PARAMETER WorkDir
Where the software keys, CSRs and certificates go (default: a new temporary folder).
.PARAMETER Credential
The account to authenticate as (default: the current user with Negotiate).
.PARAMETER Authentication
Negotiate (default), NegotiateExplicit, Ntlm, Basic or None.
.PARAMETER AllowInsecureHttp
Allows credentials over plain http:// (labs only).
.PARAMETER Module
The CmSmartcard module to import (name or path of CmSmartcard.psd1).
.EXAMPLE
.\enroll.ps1 -ServerUrl https://cm.contoso.com/CertificateManagement
.EXAMPLE
.\enroll.ps1 -ServerUrl http://127.0.0.1:8080 -Authentication None -CardId (New-Guid) -CaPem .\ca.pem -WhatIf
#>
[CmdletBinding(SupportsShouldProcess = $true)]
param(
    [Parameter(Mandatory = $true, Position = 0)] [string] $ServerUrl,
    [string] $TemplateName = 'Smartcard User',
    [string] $Reader,
    [string] $CardId,
    [string] $Atr,
    [string] $CaPem,
    [string] $WorkDir,
    [System.Management.Automation.PSCredential] [System.Management.Automation.Credential()]
    $Credential = [System.Management.Automation.PSCredential]::Empty,
    [ValidateSet('Negotiate', 'NegotiateExplicit', 'Ntlm', 'Basic', 'None')] [string] $Authentication,
    [switch] $AllowInsecureHttp,
    [string] $Module = 'CmSmartcard'
)
Set-StrictMode -Version 2.0
$ErrorActionPreference = 'Stop'
Import-Module $Module

function Step([int] $n, [string] $what) { Write-Host ('{0,2}. {1}' -f $n, $what) }

# What the card computes to check CM's answer: 3DES-EDE in ECB mode, built from single DES because .NET's
# TripleDES refuses keys whose thirds repeat (the Base CSP default admin key 0102..08 x 3 is one).
function Invoke-Des([byte[]] $Key, [byte[]] $Block, [bool] $Encrypt) {
    $des = [System.Security.Cryptography.DES]::Create()
    try {
        $des.Mode = [System.Security.Cryptography.CipherMode]::ECB
        $des.Padding = [System.Security.Cryptography.PaddingMode]::None
        $des.Key = $Key
        $t = if ($Encrypt) { $des.CreateEncryptor() } else { $des.CreateDecryptor() }
        try { , $t.TransformFinalBlock($Block, 0, $Block.Length) } finally { $t.Dispose() }
    }
    finally { $des.Dispose() }
}

function Get-TripleDesEcb([byte[]] $Key, [byte[]] $Block) {
    $k1 = $Key[0..7]; $k2 = $Key[8..15]; $k3 = $Key[16..23]
    try { Invoke-Des $k3 (Invoke-Des $k2 (Invoke-Des $k1 $Block $true) $false) $true }
    finally { [Array]::Clear($k1, 0, 8); [Array]::Clear($k2, 0, 8); [Array]::Clear($k3, 0, 8) }
}

function New-RandomBytes([int] $Count) {
    $b = New-Object byte[] $Count
    $rng = [System.Security.Cryptography.RandomNumberGenerator]::Create()
    try { $rng.GetBytes($b) } finally { $rng.Dispose() }
    , $b
}

function ConvertTo-Hex([byte[]] $Bytes) { [BitConverter]::ToString($Bytes).Replace('-', '') }

$sessionArgs = @{ ServerUrl = $ServerUrl; AllowInsecureHttp = $AllowInsecureHttp }
if ($Authentication) { $sessionArgs.Authentication = $Authentication }
if ($Credential -ne [System.Management.Automation.PSCredential]::Empty) { $sessionArgs.Credential = $Credential }
$cm = New-CmSession @sessionArgs
try {
    # 1. The card: its minidriver card id is what CM knows it by (SerialNumber "{card id}").
    if (-not $CardId) {
        $CardId = Get-CmCardId -Reader $Reader
        $Atr = Get-CmSmartcardAtr -Reader $Reader
    }
    Step 1 "card $CardId$(if ($Atr) { ", ATR $Atr" })"

    # 2. The profile template, and what its Enroll policy asks for.
    $template = Get-CmProfileTemplate -Session $cm -Name $TemplateName
    if (-not $template) { throw "no profile template named '$TemplateName'" }
    $policy = $template | Get-CmProfileTemplatePolicy -Session $cm -Type Enroll
    if (-not $policy.Enabled) { throw 'the template has no enabled Enroll policy' }
    $data = [ordered]@{}
    foreach ($item in @($policy.PolicyDataCollection)) { if ($item) { $data[$item.Name] = 'example value' } } # a real tool asks the user
    Step 2 "template '$($template.Name)' $($template.Uuid): $($policy.ApprovalsNeeded) approval(s) needed, $($data.Count) data item(s)"

    # 3. The Enroll request. POST /requests is sent at most once: when the outcome is unknown, find the request
    #    by what was sent instead of creating a second one.
    $comment = "enroll.ps1 $([DateTime]::UtcNow.ToString('s')) $([Guid]::NewGuid().ToString('N').Substring(0, 8))"
    $before = [DateTime]::UtcNow
    try { $request = New-CmRequest -Session $cm -Type Enroll -ProfileTemplateUuid $template.Uuid -Comment $comment -DataCollection $data }
    catch {
        if ($_.FullyQualifiedErrorId -notlike 'CmOutcomeUnknown*') { throw }
        $request = Find-CmCreatedRequest -Session $cm -Type Enroll -ProfileTemplateUuid $template.Uuid -Comment $comment -SubmittedAfter $before
        if (@($request).Count -ne 1) { throw }
    }
    if (-not $request) { return } # -WhatIf
    $requestId = $request.RequestId
    Step 3 "Enroll request $requestId"

    # 4. Approval: CM answers Approved (3) at once when no approval is needed; otherwise wait for a manager.
    for ($waited = 0; $request.Status -ne [CmSmartcard.CmRequestStatus]::Approved; $waited++) {
        if ($waited -eq 0) { Write-Host "    waiting for approval (status $($request.Status))..." }
        if ($waited -ge 600) { throw 'not approved after 10 minutes' }
        Start-Sleep -Seconds 1
        $request = Get-CmRequest -Session $cm -RequestId $requestId
    }
    Step 4 'approved'

    # 5. Bind the card to the request.
    $bound = Register-CmSmartcard -Session $cm -RequestId $requestId -CardId $CardId -Atr $Atr
    $smartcardUuid = $bound.SmartcardUuid
    Step 5 "card bound: smartcard $smartcardUuid"

    # 6. The template's smart card configuration: is the admin key diversified per card?
    $config = Get-CmSmartcardConfiguration -Session $cm -TemplateUuid $template.Uuid
    $diversified = [bool]$config.DiversifyAdminKey
    Step 6 "DiversifyAdminKey $diversified, UserPinOption $($config.UserPinOption), ServerProposedPin $($config.ServerProposedPin)"

    # 7. The admin key, and CM's answer to the card's admin challenge (Base CSP: 3DES-ECB of the 8-byte challenge
    #    under the admin key). A real tool takes the challenge from the card and gives the answer back to it; here
    #    the card's check is done in software. The key is a secret: cleared right after use.
    $adminKey = if ($diversified) { Get-CmAdminKey -Session $cm -RequestId $requestId -SmartcardUuid $smartcardUuid -CardId $CardId -Atr $Atr }
                else { [byte[]]($config.DefaultAdminKeyHex -split '(..)' -ne '' | ForEach-Object { [Convert]::ToByte($_, 16) }) }
    try {
        $challenge = New-RandomBytes 8
        $answer = Get-CmAuthenticationResponse -Session $cm -RequestId $requestId -SmartcardUuid $smartcardUuid -CardId $CardId -Atr $Atr -Challenge $challenge -Diversified:$diversified
        $expected = ConvertTo-Hex (Get-TripleDesEcb $adminKey $challenge)
        if ($answer.ResponseHex -ne $expected) { throw 'the authentication response does not match the admin key' }
        Step 7 "challenge $(ConvertTo-Hex $challenge) -> response $($answer.ResponseHex) (the card accepts it)"
    }
    finally { [Array]::Clear($adminKey, 0, $adminKey.Length) }

    # 8. What to request: one PKCS#10 per option.
    $options = @(Get-CmCertificateRequestOption -Session $cm -RequestId $requestId)
    $options | Format-Table -AutoSize -Property @('FriendlyName', 'Subject', 'KeyAlgorithmName', 'KeySize', 'HashAlgorithmName', 'KeyUsages') | Out-Host
    Step 8 "$($options.Count) certificate request(s) to build"

    # 9. The PKCS#10 requests (software keys made by openssl: see the note at the top).
    if (-not $WorkDir) { $WorkDir = Join-Path ([IO.Path]::GetTempPath()) ('enroll-' + [Guid]::NewGuid().ToString('N')) }
    $null = New-Item -ItemType Directory -Force -Path $WorkDir
    $csrFiles = for ($i = 0; $i -lt $options.Count; $i++) {
        $o = $options[$i]
        $subject = '/' + (($o.Subject -split ',\s*') -join '/')
        $key = Join-Path $WorkDir "key$i.pem"; $csr = Join-Path $WorkDir "request$i.der"
        & openssl req -new -newkey "rsa:$($o.KeySize)" "-$($o.HashAlgorithmName.ToLowerInvariant())" -nodes -keyout $key -subj $subject -outform DER -out $csr 2>$null
        if ($LASTEXITCODE -ne 0) { throw "openssl req failed for $($o.Subject)" }
        $csr
    }
    Step 9 "built $(@($csrFiles).Count) PKCS#10 request(s) in $WorkDir"

    # 10. Submit them; CM returns the certificates (PKCS#7: certificate + chain) exactly once.
    $issued = @(Send-CmCertificateRequest -Session $cm -RequestId $requestId -Path $csrFiles -Comment 'enroll.ps1')
    for ($i = 0; $i -lt $issued.Count; $i++) {
        $c = $issued[$i]
        if ($c.Error) { throw "$($c.TemplateCommonName): CM reports $($c.Error)" }
        $p7 = Join-Path $WorkDir "certificate$i.p7b"
        [IO.File]::WriteAllBytes($p7, $c.Pkcs7)
        $pem = Join-Path $WorkDir "certificate$i.pem"
        $certs = & openssl pkcs7 -inform DER -in $p7 -print_certs
        if ($LASTEXITCODE -ne 0) { throw "openssl pkcs7 failed for $p7" }
        Set-Content -LiteralPath $pem -Value $certs -Encoding Ascii
        $verified = ''
        if ($CaPem) {
            $out = & openssl verify -CAfile $CaPem -untrusted $pem $pem 2>&1
            if ($LASTEXITCODE -ne 0) { throw "openssl verify: $out" }
            $verified = ", verified against $(Split-Path -Leaf $CaPem)"
        }
        Write-Host "    $($c.TemplateCommonName): PKCS#7 of $($c.Pkcs7.Length) bytes$verified"
    }
    Step 10 "$($issued.Count) certificate(s) issued"

    # 11. Complete the request: CM activates the card and its profile.
    $done = Set-CmRequestStatus -Session $cm -RequestId $requestId -Status Completed
    $card = Get-CmSmartcard -Session $cm -SmartcardUuid $smartcardUuid
    $operations = (Get-CmSmartcardOperation -Session $cm -SmartcardUuid $smartcardUuid) -join ', '
    Step 11 "request $($done.Status); card status $($card.Status); allowed now: $operations"

    # 12. Later: the user forgot the PIN. An Unblock request names the card; CM answers the card's challenge.
    $unblock = New-CmRequest -Session $cm -Type Unblock -SmartcardUuid $smartcardUuid -Comment 'forgot the PIN'
    $challenge = New-RandomBytes 8
    $answer = $unblock | Get-CmAuthenticationResponse -Session $cm -SmartcardUuid $smartcardUuid -CardId $CardId -Atr $Atr -Challenge $challenge -Diversified:$diversified
    $null = $unblock | Set-CmRequestStatus -Session $cm -Status Completed
    Step 12 "Unblock request $($unblock.RequestId): challenge $(ConvertTo-Hex $challenge) -> $($answer.ResponseHex), completed"

    # 13. At the end of its life: retire the card.
    $retire = New-CmRequest -Session $cm -Type Retire -SmartcardUuid $smartcardUuid
    $card = Set-CmSmartcardStatus -Session $cm -RequestId $retire.RequestId -SmartcardUuid $smartcardUuid -Status Retired -Confirm:$false
    $null = $retire | Set-CmRequestStatus -Session $cm -Status Completed
    Step 13 "Retire request $($retire.RequestId): card status $($card.Status)"
}
finally {
    Close-CmSession $cm
}
