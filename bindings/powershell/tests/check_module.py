#!/usr/bin/env python3
"""Static checks of the CmSmartcard PowerShell module, for machines without PowerShell.

PowerShell itself is not run: this checks what can be checked from the text. Usage:
    python3 bindings/powershell/tests/check_module.py
Ends with "N passed, M failed"; exit status 1 on failure.
"""
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
MOD = os.path.dirname(HERE)
ROOT = os.path.dirname(os.path.dirname(MOD))
PSM1 = os.path.join(MOD, "CmSmartcard.psm1")
PSD1 = os.path.join(MOD, "CmSmartcard.psd1")
CS = os.path.join(ROOT, "bindings", "csharp", "CmSmartcard.cs")

# Get-Verb (PowerShell 7.4) - the approved verbs.
APPROVED = set("""Add Clear Close Copy Enter Exit Find Format Get Hide Join Lock Move New Open Optimize Pop Push Redo
Remove Rename Reset Resize Search Select Set Show Skip Split Step Switch Undo Unlock Watch Connect Disconnect Read
Receive Send Write Backup Checkpoint Compare Compress Convert ConvertFrom ConvertTo Dismount Edit Expand Export Group
Import Initialize Limit Merge Mount Out Publish Restore Save Sync Unpublish Update Debug Measure Ping Repair Resolve
Test Trace Approve Assert Build Complete Confirm Deny Deploy Disable Enable Install Invoke Register Request Restart
Resume Start Stop Submit Suspend Uninstall Unregister Wait Block Grant Protect Revoke Unblock Unprotect Use""".split())

passed = failed = 0


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
        print("ok   " + what)
    else:
        failed += 1
        print("FAIL " + what)


def strip_code(text):
    """Removes comments and string contents (keeps the quotes) from PowerShell text; checks termination."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("<#", i):
            j = text.find("#>", i + 2)
            if j < 0:
                raise ValueError("unterminated <# comment")
            out.append(" ")
            i = j + 2
        elif c == "#":
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith('@"', i) or text.startswith("@'", i):
            q = text[i + 1]
            j = text.find("\n" + q + "@", i)
            if j < 0:
                raise ValueError("unterminated here-string")
            out.append('""')
            i = j + 3
        elif c == "'":
            j = i + 1
            while True:
                j = text.find("'", j)
                if j < 0:
                    raise ValueError("unterminated ' string at offset %d" % i)
                if text.startswith("''", j):
                    j += 2
                    continue
                break
            out.append("''")
            i = j + 1
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "`" else 1
            if j >= n:
                raise ValueError('unterminated " string at offset %d' % i)
            out.append(text[i:j + 1])  # keep: $(...) subexpressions are code
            i = j + 1
        elif c == "`":
            out.append(text[i:i + 2])
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def balanced(code):
    pairs = {")": "(", "]": "[", "}": "{"}
    stack = []
    for k, c in enumerate(code):
        if c in "([{":
            stack.append((c, k))
        elif c in ")]}":
            if not stack or stack[-1][0] != pairs[c]:
                return "unbalanced %r at offset %d" % (c, k)
            stack.pop()
    return "unclosed %r" % stack[-1][0] if stack else None


psm1 = open(PSM1, "rb").read()
psd1 = open(PSD1, "rb").read()
cs = open(CS, "rb").read()
for name, data in (("CmSmartcard.psm1", psm1), ("CmSmartcard.psd1", psd1), ("CmSmartcard.cs", cs)):
    check(all(b < 0x80 for b in data), name + " is ASCII (Windows PowerShell 5.1 reads BOM-less files as ANSI)")
psm1, psd1, cs = psm1.decode(), psd1.decode(), cs.decode()

for name, text in (("CmSmartcard.psm1", psm1), ("CmSmartcard.psd1", psd1)):
    try:
        problem = balanced(strip_code(text))
    except ValueError as e:
        problem = str(e)
    check(problem is None, name + ": strings, comments and brackets are terminated and balanced" + ("" if problem is None else ": " + problem))

# Manifest keys.
for key in ("RootModule", "ModuleVersion", "GUID", "PowerShellVersion", "FunctionsToExport", "CompatiblePSEditions"):
    check(re.search(r"^\s*%s\s*=" % key, psd1, re.M) is not None, "psd1 has " + key)
check("'CmSmartcard.psm1'" in psd1, "psd1 RootModule is CmSmartcard.psm1")
check(re.search(r"PowerShellVersion\s*=\s*'5\.1'", psd1) is not None, "psd1 requires PowerShell 5.1")
version = re.search(r"ModuleVersion\s*=\s*'([^']+)'", psd1).group(1)
cargo = open(os.path.join(ROOT, "Cargo.toml")).read()
check(re.search(r'^version\s*=\s*"%s"' % re.escape(version), cargo, re.M) is not None, "psd1 ModuleVersion %s equals the crate version" % version)

exported_psd1 = set(re.findall(r"'([A-Za-z]+-Cm[A-Za-z]+)'", re.search(r"FunctionsToExport\s*=\s*@\(([^)]*)\)", psd1, re.S).group(1)))
public = set(re.findall(r"^function\s+([A-Za-z]+-Cm[A-Za-z]+)\s*\{", psm1, re.M))
internal = {"Find-CmNativeLibrary", "ConvertTo-CmErrorRecord", "Resolve-CmConnection", "Resolve-CmSession", "Write-CmAssignFailure",
            "Write-CmNotFound", "Write-CmChangeFailure", "ConvertFrom-CmObject", "ConvertFrom-CmList", "ConvertTo-CmRequestSpec", "ConvertFrom-CmHex", "ConvertTo-CmHex"}
public -= internal
emm = set(re.findall(r"[A-Za-z]+-Cm[A-Za-z]+", re.search(r"^Export-ModuleMember\s+-Function\s+(.*)$", psm1, re.M).group(1)))
check(exported_psd1 == public, "psd1 FunctionsToExport equals the public functions of the psm1 (%s)" % ", ".join(sorted(public ^ exported_psd1) or ["same"]))
check(emm == public, "Export-ModuleMember equals the public functions")

for fn in sorted(public | internal):
    verb = fn.split("-")[0]
    check(verb in APPROVED, "%s uses an approved verb" % fn)

def function_body(fn):
    m = re.search(r"^function\s+%s\s*\{" % re.escape(fn), psm1, re.M)
    if m is None:
        return ""
    rest = psm1[m.end():]
    nxt = re.search(r"^(?:function\s|<#|Export-ModuleMember)", rest, re.M)
    return rest[: nxt.start()] if nxt else rest


def param_block(body):
    pm = re.search(r"param\((.*?)\n    \)", body, re.S)
    return pm.group(1) if pm else ""


def param_names(block):
    names = re.findall(r"(?:\]\s*|^\s*)\$([A-Za-z]+)", block, re.M)
    return [p for p in names if p not in ("true", "false", "null")]


# Comment-based help and CmdletBinding for each public function.
for fn in sorted(public):
    m = re.search(r"<#((?:(?!#>).)*)#>\s*function\s+%s\s*\{" % re.escape(fn), psm1, re.S)
    check(m is not None, "%s has comment-based help right before it" % fn)
    if not m:
        continue
    help_text = m.group(1)
    body = psm1[m.end():]
    nxt = re.search(r"^function\s", body, re.M)
    body = body[: nxt.start()] if nxt else body
    for kw in (".SYNOPSIS", ".DESCRIPTION", ".EXAMPLE", ".OUTPUTS"):
        check(kw in help_text, "%s help has %s" % (fn, kw))
    check("[CmdletBinding(" in body, "%s is an advanced function ([CmdletBinding()])" % fn)
    pm = re.search(r"param\((.*?)\n    \)", body, re.S)
    params = re.findall(r"(?:\]\s*|^\s*)\$([A-Za-z]+)", pm.group(1), re.M) if pm else []
    params = [p for p in params if p not in ("true", "false", "null")]
    documented = set(re.findall(r"^\.PARAMETER\s+(\w+)", help_text, re.M))
    missing = [p for p in params if p not in documented]
    check(not missing, "%s help documents every parameter%s" % (fn, (": missing " + ", ".join(missing)) if missing else ""))
    if "Credential" in params:
        check("[System.Management.Automation.Credential()]" in body, "%s -Credential takes a PSCredential with the Credential() attribute" % fn)

# Every type and static member the module uses exists in the C# binding.
cs_types = set(re.findall(r"public (?:sealed |static )*(?:class|enum|struct) (\w+)", cs))
for t in sorted(set(re.findall(r"\[CmSmartcard\.(\w+)\]", psm1)) | set(re.findall(r"New-Object CmSmartcard\.(\w+)", psm1))):
    check(t in cs_types, "type CmSmartcard.%s exists in CmSmartcard.cs" % t)
for t, member in sorted(set(re.findall(r"\[CmSmartcard\.(\w+)\]::(\w+)", psm1))):
    body = re.search(r"public (?:sealed |static )*(?:class|enum|struct) %s\b(.*?)\n    \}" % t, cs, re.S).group(1)
    ok = re.search(r"\b%s\b" % member, body) is not None
    check(ok, "CmSmartcard.%s::%s exists" % (t, member))
for prop in sorted(set(re.findall(r"\$c\.(\w+)\s*=", psm1))):
    check(re.search(r"public [\w\.]+ %s \{ get; set; \}" % prop, cs) is not None, "CmConnection.%s is settable" % prop)
for prop in sorted(set(re.findall(r"\$Exception\.(\w+)", psm1))):
    check(re.search(r"public [\w\.]+ %s\b" % prop, cs) is not None or prop == "Message", "CmException.%s exists" % prop)

# Error handling: cmdlets write PowerShell errors, never let raw exceptions escape from process blocks.
for fn in sorted(public):
    body = function_body(fn)
    if "catch" in body:
        check(any(k in body for k in ("$PSCmdlet.WriteError(", "Write-CmAssignFailure -Cmdlet $PSCmdlet", "Write-CmChangeFailure -Cmdlet $PSCmdlet",
                                      "ThrowTerminatingError(")),
              "%s reports failures as PowerShell errors" % fn)
check("$Cmdlet.WriteError(" in function_body("Write-CmAssignFailure"), "Write-CmAssignFailure writes an error")
check("-is [CmSmartcard.CmServerUnverifiedException]" in function_body("Write-CmAssignFailure")
      and "$Exception.Result" in function_body("Write-CmAssignFailure"),
      "an assignment the server processed without proving itself still outputs its result")

# Sessions (issue 8): every cmdlet that talks to the server takes -Session and goes through a session.
NETWORK = ("AssignSmartcard", "AssignSmartcardFromReader", "ReconcileAssignment", "FindSmartcard", "GetSmartcard", "GetRequest")
# Issue 10: the enrollment flow and card lifecycle cmdlets.
ENROLL_CMDLETS = ["Get-CmProfileTemplate", "Get-CmProfileTemplatePolicy", "Get-CmSmartcardConfiguration", "New-CmRequest",
                  "Find-CmCreatedRequest", "Set-CmRequestStatus", "Get-CmAdminKey", "Get-CmAuthenticationResponse",
                  "Get-CmServerProposedPin", "Get-CmCertificateRequestOption", "Send-CmCertificateRequest",
                  "Set-CmSmartcardStatus", "Get-CmSmartcardOperation", "Get-CmSmartcardCertificate", "Get-CmUserCertificate",
                  "Get-CmProfile"]
server_cmdlets = ["Register-CmSmartcard", "Test-CmSmartcardAssignment", "Get-CmSmartcard", "Get-CmRequest", "Register-CmSmartcardFromReader"] + ENROLL_CMDLETS
for fn in sorted(public):
    body = function_body(fn)
    direct = [m for m in NETWORK if re.search(r"\[CmSmartcard\.CmApi\]::%s\(" % m, body)]
    check(not direct, "%s makes no one-shot network call (%s)" % (fn, ", ".join(direct) or "none"))
    if "$target.Session." in body:
        check(fn in server_cmdlets, "%s is listed as a server cmdlet" % fn)
for fn in server_cmdlets:
    body = function_body(fn)
    block = param_block(body)
    check(re.search(r"\[CmSmartcard\.CmSession\]\s*\$Session\b", block) is not None, "%s has -Session [CmSmartcard.CmSession]" % fn)
    check("Resolve-CmSession -Bound $PSBoundParameters" in body, "%s resolves its session in begin" % fn)
    check(re.search(r"end\s*\{\s*if \(\$target\.Owned\) \{ \$target\.Session\.Dispose\(\) \}", body) is not None,
          "%s disposes a session of its own in end" % fn)
session_class = re.search(r"public sealed class CmSession\b(.*?)\n    \}", cs, re.S)
check(session_class is not None, "CmSmartcard.cs has the CmSession class")
session_body = session_class.group(1) if session_class else ""
for member in sorted(set(re.findall(r"\$target\.Session\.(\w+)\(", psm1))):
    check(re.search(r"public [\w\.\[\]<>]+ %s\(" % member, session_body) is not None, "CmSession.%s exists" % member)
check(re.search(r"public CmSession\(CmConnection connection\)", session_body) is not None, "CmSession(CmConnection) constructor exists")
check(re.search(r"public void Dispose\(\)", session_body) is not None, "CmSession has Dispose()")
conn_params = set(param_names(param_block(function_body("New-CmConnection"))))
sess_params = set(param_names(param_block(function_body("New-CmSession"))))
check(conn_params <= sess_params, "New-CmSession takes every New-CmConnection parameter (%s)" % ", ".join(sorted(conn_params - sess_params) or ["all"]))
check("Connection" in sess_params, "New-CmSession takes -Connection")
check("$Session.Dispose()" in function_body("Close-CmSession"), "Close-CmSession disposes the session")

# PowerShell passes an omitted string parameter as "": the binding treats "" as "not given", so the module
# must pass strings straight through (no "if ($X) { $X } else { $null }" which cannot produce $null anyway).
check(re.search(r"if \(\$(\w+)\) \{ \$\1 \} else \{ \$null \}", psm1) is None, "no $(if ($X) { $X } else { $null }) for string parameters")
for fn in ("Get-CmSmartcardAtr", "Get-CmCardId", "Register-CmSmartcardFromReader"):
    check(re.search(r"\(\$RequestId, \$Reader,|\(\$Reader[,)]", function_body(fn)) is not None, "%s passes -Reader through" % fn)
check("ThrowTerminatingError" in psm1, "setup failures are terminating errors")
check("[CmSmartcard.CmLibrary]::Load($script:LibraryPath)" in psm1, "the DLL is preloaded by full path before first use")
check("Is64BitProcess" in psm1, "the DLL is chosen by process bitness")

# ---- Issue 10: the enrollment cmdlets ----
for fn in ENROLL_CMDLETS:
    check(fn in public, "%s exists and is exported" % fn)

# Everything that changes state in CM supports -WhatIf/-Confirm and asks ShouldProcess before the call.
STATE_CHANGING = ("CreateRequest", "SetRequestStatus", "SubmitCertificateRequests", "SetSmartcardStatus", "AssignSmartcard",
                  "AssignSmartcardFromReader")
for fn in sorted(public):
    body = function_body(fn)
    calls = [m.start() for m in re.finditer(r"\$target\.Session\.(?:%s)\(" % "|".join(STATE_CHANGING), body)]
    if not calls:
        continue
    check("SupportsShouldProcess = $true" in body, "%s changes state and has SupportsShouldProcess" % fn)
    ask = body.find("$PSCmdlet.ShouldProcess(")
    check(ask >= 0 and all(ask < c for c in calls), "%s asks ShouldProcess before every state-changing call" % fn)
for fn in ("New-CmRequest", "Set-CmRequestStatus", "Send-CmCertificateRequest", "Set-CmSmartcardStatus"):
    check("SupportsShouldProcess = $true" in function_body(fn), "%s supports -WhatIf/-Confirm" % fn)
for fn in sorted(public):
    body = function_body(fn)
    if "SupportsShouldProcess = $true" in body:
        check("$PSCmdlet.ShouldProcess(" in body, "%s declares SupportsShouldProcess and calls ShouldProcess" % fn)

# Pipeline: ids bind by property name (Get-CmRequest -Status Pending | Set-CmRequestStatus -Status Canceled).
for fn in ENROLL_CMDLETS:
    block = param_block(function_body(fn))
    for pname in ("RequestId", "SmartcardUuid", "TemplateUuid", "ProfileTemplateUuid"):
        m = re.search(r"\[Parameter\(([^)]*)\)\][^$]*\$%s\b" % pname, block)
        if m:
            check("ValueFromPipelineByPropertyName = $true" in m.group(1), "%s -%s binds from the pipeline by property name" % (fn, pname))
    if "ValueFromPipeline" in block:
        m = re.search(r"<#((?:(?!#>).)*)#>\s*function\s+%s\s*\{" % re.escape(fn), psm1, re.S)
        check(m is not None and ".INPUTS" in m.group(1), "%s takes pipeline input and its help has .INPUTS" % fn)
check("RequestId" in re.search(r"public sealed class CmRequestInfo\b(.*?)\n    \}", cs, re.S).group(1), "CmRequestInfo has RequestId (the pipeline key)")

# The names a cmdlet offers (ValidateSet) are the ones the C# binding accepts (CmNames).
def cs_names(field):
    m = re.search(r"public static readonly string\[\] %s = \{(.*?)\};" % field, cs, re.S)
    return set(re.findall(r'"(\w+)"', m.group(1))) if m else set()

def validate_set(fn, pname):
    m = re.search(r"\[ValidateSet\(([^)]*)\)\]\s*\[string\] \$%s\b" % pname, param_block(function_body(fn)))
    return set(re.findall(r"'(\w+)'", m.group(1))) if m else set()


for fn, pname, field in (("New-CmRequest", "Type", "RequestTypes"), ("Find-CmCreatedRequest", "Type", "RequestTypes"),
                         ("Get-CmProfileTemplatePolicy", "Type", "PolicyTypes"), ("Get-CmRequest", "Status", "RequestStatuses"),
                         ("Set-CmRequestStatus", "Status", "SettableRequestStatuses"),
                         ("Set-CmSmartcardStatus", "Status", "SettableSmartcardStatuses"), ("Get-CmProfile", "Status", "ProfileStatuses")):
    got, want = validate_set(fn, pname), cs_names(field)
    check(got and got == want, "%s -%s offers exactly CmNames.%s (%s)" % (fn, pname, field, ", ".join(sorted(got ^ want)) or "same"))

# Secrets: the admin key's help says to clear it; the PIN is a SecureString unless -AsPlainText, and the BSTR is wiped.
admin_help = re.search(r"<#((?:(?!#>).)*)#>\s*function\s+Get-CmAdminKey\s*\{", psm1, re.S)
check(admin_help is not None and "[Array]::Clear(" in admin_help.group(1), "Get-CmAdminKey's help shows clearing the key")
pin = function_body("Get-CmServerProposedPin")
check("ZeroFreeBSTR" in pin and "if ($AsPlainText)" in pin, "Get-CmServerProposedPin writes a SecureString unless -AsPlainText and wipes the BSTR")
check("Write-Output -NoEnumerate" in function_body("Get-CmAdminKey"), "Get-CmAdminKey writes the key as one byte array")
# No secret goes to the host or the verbose/debug streams.
for fn in ("Get-CmAdminKey", "Get-CmServerProposedPin", "Send-CmCertificateRequest", "Get-CmSmartcardConfiguration"):
    check(re.search(r"Write-(?:Verbose|Debug|Information)\b", function_body(fn)) is None, "%s writes no secret to other streams" % fn)

# A change the server processed without proving itself still outputs its result (certificates come only once).
for fn in ("New-CmRequest", "Set-CmRequestStatus", "Send-CmCertificateRequest", "Set-CmSmartcardStatus"):
    check("Write-CmChangeFailure -Cmdlet $PSCmdlet" in function_body(fn), "%s outputs the result of a processed but unverified change" % fn)
change = function_body("Write-CmChangeFailure")
check("-is [CmSmartcard.CmServerUnverifiedResultException]" in change and "$Exception.Result" in change and "$Cmdlet.WriteError(" in change,
      "Write-CmChangeFailure writes the result and an error")

# "Outcome unknown" advice names the reconcile of every state-changing call.
err = function_body("ConvertTo-CmErrorRecord")
for method in ("CreateRequest", "SetRequestStatus", "SetSmartcardStatus", "SubmitCertificateRequests"):
    check("'CmSession.%s'" % method in err, "the OutcomeUnknown advice covers CmSession.%s" % method)
check("Find-CmCreatedRequest" in err, "the OutcomeUnknown advice of CreateRequest names Find-CmCreatedRequest")

# Generic objects carry their raw Json and a type name; the CmObject is disposed.
conv = function_body("ConvertFrom-CmObject")
check("'Json'" in conv and "TypeNames.Insert(0" in conv and "$Object.Dispose()" in conv, "ConvertFrom-CmObject adds Json, a type name, and disposes")
check("$List.Dispose()" in function_body("ConvertFrom-CmList"), "ConvertFrom-CmList disposes the list")
for cls in ("CmRequestInfo", "CmSmartcardInfo", "CmProfileTemplateInfo", "CmCsrOption", "CmCertificateData"):
    body = re.search(r"public sealed class %s\b(.*?)\n    \}" % cls, cs, re.S)
    check(body is not None and "public string Json" in body.group(1), "%s (a cmdlet output) has Json" % cls)

# The help examples and examples/enroll.ps1 use only cmdlets the module exports (or PowerShell's own).
used = set()
for m in re.finditer(r"^\.EXAMPLE\n(.*?)(?=^\.[A-Z]+|#>)", psm1, re.S | re.M):
    used |= set(re.findall(r"\b[A-Z][a-z]+-Cm[A-Za-z]+\b", m.group(1)))
check(len(used) > 10 and used <= public, "help examples use exported cmdlets only (%s)" % (", ".join(sorted(used - public)) or "all"))
ENROLL_PS1 = os.path.join(ROOT, "examples", "enroll.ps1")
if os.path.exists(ENROLL_PS1):
    example = open(ENROLL_PS1, "rb").read()
    check(all(b < 0x80 for b in example), "examples/enroll.ps1 is ASCII")
    example = example.decode()
    used = set(re.findall(r"\b[A-Z][a-z]+-Cm[A-Za-z]+\b", example))
    check(used <= public, "examples/enroll.ps1 uses exported cmdlets only (%s)" % (", ".join(sorted(used - public)) or "all"))
    walk = ["Get-CmCardId", "Get-CmProfileTemplate", "Get-CmProfileTemplatePolicy", "New-CmRequest", "Find-CmCreatedRequest",
            "Register-CmSmartcard", "Get-CmSmartcardConfiguration", "Get-CmAdminKey", "Get-CmAuthenticationResponse",
            "Get-CmCertificateRequestOption", "Send-CmCertificateRequest", "Set-CmRequestStatus", "Set-CmSmartcardStatus"]
    check(all(c in used for c in walk), "examples/enroll.ps1 walks the whole enrollment (%s)" % (", ".join(c for c in walk if c not in used) or "all steps"))
    try:
        problem = balanced(strip_code(example))
    except ValueError as e:
        problem = str(e)
    check(problem is None, "examples/enroll.ps1: strings, comments and brackets are terminated and balanced" + ("" if problem is None else ": " + problem))

print("%d passed, %d failed" % (passed, failed))
sys.exit(0 if failed == 0 else 1)
