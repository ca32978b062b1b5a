// enroll.cs: a smart card's whole life in MIM Certificate Management, from C# (the counterpart of enroll.c).
//
//   mono enroll.exe SERVER_URL [TEMPLATE_NAME]          (TEMPLATE_NAME default "Smartcard User")
//
// The documented enrollment (sample-enrollment-walkthrough.md), step by step: read the card, pick the profile
// template and read its Enroll policy, create the Enroll request, wait for approval, bind the card, read the
// template's smart card configuration, get the card's admin key and answer an admin challenge, get the CSR
// options, build the PKCS#10 requests, submit them, check the returned PKCS#7, complete the request. Then the
// card's later life: an Unblock request answered with challenge/response, and a Retire.
//
// Environment:
//   CM_SMARTCARD_LIB   full path of libcm_smartcard.so / cm_smartcard.dll (else the runtime's own search)
//   CM_AUTH            negotiate (default: the current user) | ntlm | basic | none; CM_USER, CM_PASSWORD for
//                      explicit credentials; CM_INSECURE=1 allows them over plain http:// (labs only)
//   CM_READER          the PC/SC reader (default: the first one that holds a card)
//   CM_CARD_ID, CM_ATR use this card id (and ATR) instead of reading a card (labs without a reader)
//   CM_CA_PEM          the issuing CA's certificate (PEM): the certificates are verified against it
//   CM_WORK_DIR        where the example's software keys and CSRs go (default: a new temporary folder)
//
// Keys: this example makes software RSA keys with the openssl CLI, as a lab stand-in. A real enrollment
// generates the keys ON the card (minidriver / CNG smart card KSP) after authenticating with the admin key;
// cm-smartcard only carries the PKCS#10 requests, it never generates keys.
//
// Build: mcs -r:System.Security -out:enroll.exe examples/enroll.cs bindings/csharp/CmSmartcard.cs
// Exit status: 0 done, 1 a step failed, 2 usage, 3 an outcome is unknown (see the message before retrying).

using System;
using System.Diagnostics;
using System.IO;
using System.Security.Cryptography;
using System.Security.Cryptography.Pkcs;
using System.Security.Cryptography.X509Certificates;
using System.Text.RegularExpressions;
using System.Threading;
using CmSmartcard;

static class Enroll
{
    static int Main(string[] args)
    {
        if (args.Length < 1 || args.Length > 2)
        {
            Console.Error.WriteLine("usage: enroll.exe SERVER_URL [TEMPLATE_NAME]");
            return 2;
        }
        string lib = Environment.GetEnvironmentVariable("CM_SMARTCARD_LIB");
        if (!String.IsNullOrEmpty(lib)) CmLibrary.Load(lib);
        CmLibrary.EnsureCompatible();
        try
        {
            using (var cm = new CmSession(ConnectionFromEnvironment(args[0])))
                Run(cm, args.Length > 1 ? args[1] : "Smartcard User");
            return 0;
        }
        catch (CmException e)
        {
            Console.Error.WriteLine("FAILED: " + e.Message);
            if (e.HttpStatus != 0) Console.Error.WriteLine("  HTTP status: " + e.HttpStatus);
            if (e.ServerMessage.Length > 0) Console.Error.WriteLine("  server message: " + e.ServerMessage);
            if (e.CorrelationId.Length > 0) Console.Error.WriteLine("  correlation id: " + e.CorrelationId + " (give it to the CM administrator)");
            return e.OutcomeUnknown ? 3 : 1;
        }
        catch (Exception e)
        {
            Console.Error.WriteLine("FAILED: " + e.Message);
            return 1;
        }
    }

    static void Run(CmSession cm, string templateName)
    {
        // 1. The card: its minidriver card id is what CM knows it by (SerialNumber "{card id}").
        string cardId = Environment.GetEnvironmentVariable("CM_CARD_ID");
        string atr = Environment.GetEnvironmentVariable("CM_ATR");
        if (String.IsNullOrEmpty(cardId))
        {
            string reader = Environment.GetEnvironmentVariable("CM_READER");
            cardId = CmApi.ReadCardId(reader);
            atr = CmApi.ReadCardAtr(reader);
        }
        Step(1, "card " + cardId + (String.IsNullOrEmpty(atr) ? "" : ", ATR " + atr));

        // 2. The profile template, and what its Enroll policy asks for.
        CmProfileTemplateInfo template = null;
        foreach (CmProfileTemplateInfo t in cm.ListProfileTemplates())
            if (t.Name == templateName) template = t;
        if (template == null) throw new Exception("no profile template named '" + templateName + "'");
        var spec = new CmRequestSpec("Enroll", template.Uuid);
        spec.Comment = "enroll.cs " + DateTime.UtcNow.ToString("s") + " " + Guid.NewGuid().ToString("N").Substring(0, 8);
        using (CmObject policy = cm.GetProfileTemplatePolicy(template.Uuid, "Enroll"))
        {
            if (policy == null || !policy.GetBool("Enabled")) throw new Exception("the template has no enabled Enroll policy");
            int items = policy.HasField("PolicyDataCollection") ? policy.GetCount("PolicyDataCollection") : 0;
            for (int i = 0; i < items; i++)
                using (CmObject item = policy.GetObjectAt("PolicyDataCollection", i))
                    spec.AddData(item.GetString("Name"), "example value"); // a real tool asks the user
            Step(2, "template '" + template.Name + "' " + template.Uuid + ": " + policy.GetInt64("ApprovalsNeeded")
                + " approval(s) needed, " + items + " data item(s)");
        }

        // 3. The Enroll request. POST /requests is sent at most once: when the outcome is unknown, find the
        //    request by what was sent instead of creating a second one.
        DateTime before = DateTime.UtcNow;
        string requestId;
        try { requestId = cm.CreateRequest(spec).ToString(); }
        catch (CmException e)
        {
            if (!e.OutcomeUnknown) throw;
            CmRequestInfo[] found = cm.FindCreatedRequests(spec, before);
            if (found.Length != 1) throw;
            requestId = found[0].RequestId;
        }
        Step(3, "Enroll request " + requestId);

        // 4. Approval: CM answers Approved (3) at once when no approval is needed; otherwise wait for a manager.
        CmRequestInfo request = cm.GetRequest(requestId);
        for (int waited = 0; request.Status != CmRequestStatus.Approved; waited++)
        {
            if (waited == 0) Console.WriteLine("   waiting for approval (status " + request.Status + ")...");
            if (waited >= 600) throw new Exception("not approved after 10 minutes");
            Thread.Sleep(1000);
            request = cm.GetRequest(requestId);
        }
        Step(4, "approved");

        // 5. Bind the card to the request.
        string smartcardUuid = cm.AssignSmartcard(requestId, cardId, atr).SmartcardUuid;
        Step(5, "card bound: smartcard " + smartcardUuid);

        // 6. The template's smart card configuration: is the admin key diversified per card?
        bool diversified;
        byte[] defaultKey;
        using (CmObject config = cm.GetSmartcardConfig(template.Uuid))
        {
            diversified = config.GetBool("DiversifyAdminKey");
            defaultKey = FromHex(config.GetString("DefaultAdminKeyHex"));
            Step(6, "DiversifyAdminKey " + diversified + ", UserPinOption " + config.GetInt64("UserPinOption")
                + ", ServerProposedPin " + config.GetBool("ServerProposedPin"));
        }

        // 7. The admin key, and CM's answer to the card's admin challenge (Base CSP: 3DES-ECB of the 8-byte
        //    challenge under the admin key). A real tool takes the challenge from the card (GET CHALLENGE) and gives
        //    the answer back to it; here the card's check is done in software.
        byte[] adminKey = diversified ? cm.GetAdminKey(requestId, smartcardUuid, cardId, atr) : defaultKey;
        try
        {
            byte[] challenge = RandomBytes(8);
            byte[] response = cm.GetAuthenticationResponse(requestId, smartcardUuid, cardId, atr, challenge, diversified);
            bool ok = Convert.ToBase64String(response) == Convert.ToBase64String(TripleDesEcb(adminKey, challenge));
            Step(7, "challenge " + Hex(challenge) + " -> response " + Hex(response) + (ok ? " (the card accepts it)" : " (WRONG)"));
            if (!ok) throw new Exception("the authentication response does not match the admin key");
        }
        finally
        {
            Array.Clear(adminKey, 0, adminKey.Length);
            Array.Clear(defaultKey, 0, defaultKey.Length);
        }

        // 8. What to request: one PKCS#10 per option.
        CmCsrOption[] options = cm.GetCsrOptions(requestId);
        foreach (CmCsrOption o in options)
            Console.WriteLine("   " + o.FriendlyName + ": " + o.Subject + ", " + o.KeyAlgorithmName + " " + o.KeySize + ", " + o.HashAlgorithmName
                + ", key usages " + o.KeyUsages);
        Step(8, options.Length + " certificate request(s) to build");

        // 9. The PKCS#10 requests (software keys made by openssl: see the note at the top).
        string work = Environment.GetEnvironmentVariable("CM_WORK_DIR");
        if (String.IsNullOrEmpty(work)) work = Path.Combine(Path.GetTempPath(), "enroll-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(work);
        var csrs = new byte[options.Length][];
        for (int i = 0; i < options.Length; i++) csrs[i] = MakeCsr(work, i, options[i]);
        Step(9, "built " + csrs.Length + " PKCS#10 request(s) in " + work);

        // 10. Submit them; CM returns the certificates (PKCS#7, certificate + chain) exactly once.
        CmCertificateData[] issued = cm.SubmitCertificateRequests(requestId, csrs, (string)null, "enroll.cs");
        string caPem = Environment.GetEnvironmentVariable("CM_CA_PEM");
        for (int i = 0; i < issued.Length; i++)
        {
            CmCertificateData c = issued[i];
            if (c.Error.Length > 0) throw new Exception(c.TemplateCommonName + ": CM reports " + c.Error);
            var p7 = new SignedCms();
            p7.Decode(c.Pkcs7);
            X509Certificate2 leaf = p7.Certificates[0];
            foreach (X509Certificate2 x in p7.Certificates) if (x.Subject != x.Issuer) leaf = x;
            string file = Path.Combine(work, "certificate" + i + ".p7b");
            File.WriteAllBytes(file, c.Pkcs7);
            string verified = String.IsNullOrEmpty(caPem) ? "" : ", " + Verify(leaf, caPem, work, i);
            Console.WriteLine("   " + c.TemplateCommonName + ": " + leaf.Subject + ", serial " + leaf.SerialNumber + verified);
        }
        Step(10, issued.Length + " certificate(s) issued");

        // 11. Complete the request: CM activates the card and its profile.
        request = cm.SetRequestStatus(requestId, "Completed");
        CmSmartcardInfo card = cm.GetSmartcard(smartcardUuid);
        Step(11, "request " + (request.StatusName ?? request.Status.ToString()) + "; card status " + card.Status
            + "; allowed now: " + String.Join(", ", cm.GetSmartcardOperations(smartcardUuid)));

        // 12. Later: the user forgot the PIN. An Unblock request names the card; CM answers the card's challenge.
        var unblockSpec = new CmRequestSpec();
        unblockSpec.Type = "Unblock";
        unblockSpec.SmartcardUuid = smartcardUuid;
        unblockSpec.Comment = "forgot the PIN";
        string unblockId = cm.CreateRequest(unblockSpec).ToString();
        byte[] unblockChallenge = RandomBytes(8);
        byte[] unblockResponse = cm.GetAuthenticationResponse(unblockId, smartcardUuid, cardId, atr, unblockChallenge, diversified);
        cm.SetRequestStatus(unblockId, "Completed");
        Step(12, "Unblock request " + unblockId + ": challenge " + Hex(unblockChallenge) + " -> " + Hex(unblockResponse) + ", completed");

        // 13. At the end of its life: retire the card.
        var retireSpec = new CmRequestSpec();
        retireSpec.Type = "Retire";
        retireSpec.SmartcardUuid = smartcardUuid;
        string retireId = cm.CreateRequest(retireSpec).ToString();
        card = cm.SetSmartcardStatus(retireId, smartcardUuid, "Retired");
        cm.SetRequestStatus(retireId, "Completed");
        Step(13, "Retire request " + retireId + ": card status " + (card.StatusName ?? card.Status.ToString()));
    }

    static void Step(int n, string what) { Console.WriteLine(n.ToString().PadLeft(2) + ". " + what); }

    static CmConnection ConnectionFromEnvironment(string url)
    {
        var c = new CmConnection(url);
        string auth = (Environment.GetEnvironmentVariable("CM_AUTH") ?? "negotiate").ToLowerInvariant();
        c.AuthMethod = auth == "none" ? CmAuthMethod.None : auth == "basic" ? CmAuthMethod.Basic : auth == "ntlm" ? CmAuthMethod.Ntlm
            : String.IsNullOrEmpty(Environment.GetEnvironmentVariable("CM_USER")) ? CmAuthMethod.Negotiate : CmAuthMethod.NegotiateExplicit;
        c.UserName = Environment.GetEnvironmentVariable("CM_USER");
        c.Password = Environment.GetEnvironmentVariable("CM_PASSWORD");
        if (Environment.GetEnvironmentVariable("CM_INSECURE") == "1") c.AuthFlags = CmAuthFlags.AllowInsecureHttp;
        return c;
    }

    // What the card computes to check CM's answer: 3DES-EDE in ECB mode. Built from single DES because .NET's
    // TripleDES refuses keys whose thirds repeat (the Base CSP default admin key 0102..08 x 3 is one).
    static byte[] TripleDesEcb(byte[] key24, byte[] block)
    {
        byte[] k1 = new byte[8], k2 = new byte[8], k3 = new byte[8];
        Array.Copy(key24, 0, k1, 0, 8);
        Array.Copy(key24, 8, k2, 0, 8);
        Array.Copy(key24, 16, k3, 0, 8);
        try { return Des(k3, Des(k2, Des(k1, block, true), false), true); }
        finally { Array.Clear(k1, 0, 8); Array.Clear(k2, 0, 8); Array.Clear(k3, 0, 8); }
    }

    static byte[] Des(byte[] key, byte[] block, bool encrypt)
    {
        using (DES des = DES.Create())
        {
            des.Mode = CipherMode.ECB;
            des.Padding = PaddingMode.None;
            des.Key = key;
            using (ICryptoTransform t = encrypt ? des.CreateEncryptor() : des.CreateDecryptor())
                return t.TransformFinalBlock(block, 0, block.Length);
        }
    }

    static byte[] RandomBytes(int n)
    {
        var b = new byte[n];
        using (var rng = RandomNumberGenerator.Create()) rng.GetBytes(b);
        return b;
    }

    static byte[] FromHex(string hex)
    {
        var b = new byte[hex.Length / 2];
        for (int i = 0; i < b.Length; i++) b[i] = Convert.ToByte(hex.Substring(2 * i, 2), 16);
        return b;
    }

    static string Hex(byte[] b) { return BitConverter.ToString(b).Replace("-", ""); }

    // A software key and its PKCS#10 request (DER) for one CSR option, made by the openssl CLI.
    static byte[] MakeCsr(string dir, int index, CmCsrOption option)
    {
        string subject = "/" + String.Join("/", Regex.Split(option.Subject.Length > 0 ? option.Subject : "CN=enroll.cs", ",\\s*"));
        string key = Path.Combine(dir, "key" + index + ".pem"), csr = Path.Combine(dir, "request" + index + ".der");
        string alg = option.KeyAlgorithmName.Length == 0 || option.KeyAlgorithmName.StartsWith("RSA", StringComparison.OrdinalIgnoreCase)
            ? "rsa:" + (option.KeySize > 0 ? option.KeySize : 2048) : null;
        if (alg == null) throw new Exception("this example makes RSA keys only, not " + option.KeyAlgorithmName);
        string hash = option.HashAlgorithmName.Length > 0 ? " -" + option.HashAlgorithmName.ToLowerInvariant() : "";
        Openssl("req -new -newkey " + alg + hash + " -nodes -keyout \"" + key + "\" -subj \"" + subject + "\" -outform DER -out \"" + csr + "\"");
        return File.ReadAllBytes(csr);
    }

    // Checks the issued certificate against the CA with `openssl verify`.
    static string Verify(X509Certificate2 cert, string caPem, string dir, int index)
    {
        string file = Path.Combine(dir, "certificate" + index + ".pem");
        File.WriteAllText(file, "-----BEGIN CERTIFICATE-----\n" + Convert.ToBase64String(cert.RawData, Base64FormattingOptions.InsertLineBreaks)
            + "\n-----END CERTIFICATE-----\n");
        string output = Openssl("verify -CAfile \"" + caPem + "\" \"" + file + "\"");
        if (!output.Contains(": OK")) throw new Exception("openssl verify: " + output);
        return "verified against " + Path.GetFileName(caPem);
    }

    static string Openssl(string arguments)
    {
        var psi = new ProcessStartInfo("openssl", arguments);
        psi.UseShellExecute = false;
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        using (Process p = Process.Start(psi))
        {
            string output = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
            p.WaitForExit();
            if (p.ExitCode != 0) throw new Exception("openssl " + arguments + " failed: " + output);
            return output;
        }
    }
}
