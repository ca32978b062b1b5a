@{
    RootModule           = 'CmSmartcard.psm1'
    ModuleVersion        = '0.1.0'
    GUID                 = '3d0b6f1e-5a57-4a43-9f0c-8c2f64a1c9d2'
    Author               = 'cm-smartcard contributors'
    CompanyName          = 'cm-smartcard'
    Copyright            = 'MIT OR Apache-2.0'
    Description          = 'Binds smart cards to Microsoft Identity Manager Certificate Management (MIM CM) requests and runs the whole CM enrollment and card lifecycle (templates, requests, admin keys, challenge/response, certificates, profiles) through the CM REST API, using the cm_smartcard native library.'
    PowerShellVersion    = '5.1'
    CompatiblePSEditions = @('Desktop', 'Core')
    FunctionsToExport    = @(
        'Get-CmLibraryVersion',
        'New-CmConnection',
        'New-CmSession',
        'Close-CmSession',
        'Register-CmSmartcard',
        'Test-CmSmartcardAssignment',
        'Get-CmSmartcard',
        'Get-CmRequest',
        'Get-CmSmartcardReader',
        'Get-CmSmartcardAtr',
        'Get-CmCardId',
        'Register-CmSmartcardFromReader',
        'Get-CmProfileTemplate',
        'Get-CmProfileTemplatePolicy',
        'Get-CmSmartcardConfiguration',
        'New-CmRequest',
        'Find-CmCreatedRequest',
        'Set-CmRequestStatus',
        'Get-CmAdminKey',
        'Get-CmAuthenticationResponse',
        'Get-CmServerProposedPin',
        'Get-CmCertificateRequestOption',
        'Send-CmCertificateRequest',
        'Set-CmSmartcardStatus',
        'Get-CmSmartcardOperation',
        'Get-CmSmartcardCertificate',
        'Get-CmUserCertificate',
        'Get-CmProfile'
    )
    CmdletsToExport      = @()
    VariablesToExport    = @()
    AliasesToExport      = @()
    FileList             = @('CmSmartcard.psd1', 'CmSmartcard.psm1', 'CmSmartcard.cs', 'bin\x64\cm_smartcard.dll', 'bin\x86\cm_smartcard.dll')
    PrivateData          = @{
        PSData = @{
            Tags       = @('MIM', 'CertificateManagement', 'SmartCard', 'PKI')
            ProjectUri = 'https://example.invalid/cm-smartcard'
        }
    }
}
