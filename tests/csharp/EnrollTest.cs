// Mono test of the issue-10 enrollment surface of bindings/csharp/CmSmartcard.cs (CmObject, CmList, the CmSession
// calls) against the CM emulator: the whole documented walk (templates, policy, smart card configuration, Enroll,
// bind, admin key, challenge/response checked by recomputing 3DES here, CSR options, CSRs made with the openssl CLI,
// certificate data checked against the emulator's test CA, completion), then Unblock and Retire, approval,
// server-proposed PIN, and every kind of bad input. Part of CmSmartcardTest (same process, same helpers).

using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Runtime.InteropServices;
using System.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.Pkcs;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.RegularExpressions;
using CmSmartcard;

static partial class CmSmartcardTest
{
    // ---- helpers ----

    static T ThrowsArg<T>(string paramName, Body body) where T : ArgumentException
    {
        try { body(); }
        catch (T e)
        {
            Eq(paramName, e.ParamName, "ParamName of " + typeof(T).Name + " (" + e.Message + ")");
            return e;
        }
        catch (CmException e) { throw new Exception("CmException " + e.Status + " instead of " + typeof(T).Name + ": " + e.Message); }
        throw new Exception("expected " + typeof(T).Name + " for " + paramName + ", nothing was thrown");
    }

    static byte[] Des(byte[] key8, byte[] block, bool encrypt)
    {
        using (DES des = DES.Create())
        {
            des.Mode = CipherMode.ECB;
            des.Padding = PaddingMode.None;
            des.Key = key8;
            using (ICryptoTransform t = encrypt ? des.CreateEncryptor() : des.CreateDecryptor())
                return t.TransformFinalBlock(block, 0, 8);
        }
    }

    // Base CSP admin response: 3DES-EDE ECB of the 8-byte challenge under the 24-byte key. Composed from single DES
    // because TripleDES refuses keys with K1 = K2 (the Base CSP default 0102..08 x 3 is one).
    static byte[] TripleDesEcb(byte[] key24, byte[] challenge)
    {
        byte[] k1 = new byte[8], k2 = new byte[8], k3 = new byte[8];
        Array.Copy(key24, 0, k1, 0, 8);
        Array.Copy(key24, 8, k2, 0, 8);
        Array.Copy(key24, 16, k3, 0, 8);
        return Des(k3, Des(k2, Des(k1, challenge, true), false), true);
    }

    static byte[] FromHex(string hex)
    {
        var b = new byte[hex.Length / 2];
        for (int i = 0; i < b.Length; i++) b[i] = Convert.ToByte(hex.Substring(2 * i, 2), 16);
        return b;
    }

    static string Run(string file, string arguments)
    {
        var psi = new ProcessStartInfo(file, arguments);
        psi.UseShellExecute = false;
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        using (Process p = Process.Start(psi))
        {
            string output = p.StandardOutput.ReadToEnd();
            string error = p.StandardError.ReadToEnd();
            p.WaitForExit();
            if (p.ExitCode != 0) throw new Exception(file + " " + arguments + " failed (" + p.ExitCode + "): " + error);
            return output;
        }
    }

    // A PKCS#10 request (DER) with a fresh software RSA key, made by the openssl CLI (Mono has no CertificateRequest).
    static byte[] MakeCsr(string dir, int index, CmCsrOption option)
    {
        string subject = "/" + String.Join("/", Regex.Split(option.Subject.Length > 0 ? option.Subject : "CN=cm-smartcard test", ",\\s*"));
        string key = Path.Combine(dir, "key" + index + ".pem"), csr = Path.Combine(dir, "csr" + index + ".der");
        int bits = option.KeySize > 0 ? option.KeySize : 2048;
        Run("openssl", "req -new -newkey rsa:" + bits + " -nodes -keyout \"" + key + "\" -subj \"" + subject + "\" -outform DER -out \"" + csr + "\"");
        return File.ReadAllBytes(csr);
    }

    static string TemplateUuid(CmSession session, string name)
    {
        foreach (CmProfileTemplateInfo t in session.ListProfileTemplates()) if (t.Name == name) return t.Uuid;
        throw new Exception("no seeded template '" + name + "'");
    }

    static void Approve(string requestId) { Http("POST", "/_emulator/requests/" + requestId + "/approve", ""); }

    static string Plain(SecureString s)
    {
        IntPtr b = Marshal.SecureStringToBSTR(s);
        try { return Marshal.PtrToStringBSTR(b); }
        finally { Marshal.ZeroFreeBSTR(b); }
    }

    // ---- the tests ----

    static void StructFields(string cName, Type cs)
    {
        Match body = Regex.Match(header, "typedef struct " + cName + " \\{(.*?)\\} " + cName + ";", RegexOptions.Singleline);
        True(body.Success, cName + " in the header");
        var cFields = new List<string>();
        foreach (Match f in Regex.Matches(body.Groups[1].Value, "^\\s*[a-z_0-9 ]+?\\**\\s*\\b([a-z_0-9]+);", RegexOptions.Multiline))
            cFields.Add(f.Groups[1].Value);
        var csFields = new List<string>();
        foreach (System.Reflection.FieldInfo fi in cs.GetFields()) csFields.Add(fi.Name);
        Eq(String.Join(" ", cFields), String.Join(" ", csFields), cName + " fields");
    }

    static void EnrollmentTests()
    {
        Test("struct layouts match cm_request_spec, cm_data_item, cm_bytes", delegate
        {
            int p = IntPtr.Size;
            Eq(p == 8 ? 72 : 36, Marshal.SizeOf(typeof(NativeRequestSpec)), "sizeof(cm_request_spec)");
            Eq(p == 8 ? 48 : 24, (int)Marshal.OffsetOf(typeof(NativeRequestSpec), "priority"), "offsetof(priority)");
            Eq(2 * p, Marshal.SizeOf(typeof(NativeDataItem)), "sizeof(cm_data_item)");
            Eq(2 * p, Marshal.SizeOf(typeof(NativeBytes)), "sizeof(cm_bytes)");
            StructFields("cm_request_spec", typeof(NativeRequestSpec));
            StructFields("cm_data_item", typeof(NativeDataItem));
            StructFields("cm_bytes", typeof(NativeBytes));
        });

        Test("CmObjectKind matches every CM_OBJECT_* of the header", delegate
        {
            int n = 0;
            foreach (Match m in Regex.Matches(header, "#define CM_OBJECT_([A-Z_]+) (\\d+)"))
            {
                Eq(int.Parse(m.Groups[2].Value), (int)(CmObjectKind)Enum.Parse(typeof(CmObjectKind), Pascal(m.Groups[1].Value)), "CmObjectKind." + m.Groups[1].Value);
                n++;
            }
            Eq(13, n, "CM_OBJECT_* count");
            Eq(n, Enum.GetValues(typeof(CmObjectKind)).Length, "no extra CmObjectKind values");
        });

        CmSession session = new CmSession(Conn());
        string userTemplate = null, approvalTemplate = null, serverKeysTemplate = null;
        string csrDir = Path.Combine(Path.GetTempPath(), "cm-csharp-csr-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(csrDir);

        Test("ListProfileTemplates lists the seeded templates with typed fields", delegate
        {
            CmProfileTemplateInfo[] all = session.ListProfileTemplates();
            True(all.Length >= 3, "3 seeded templates, got " + all.Length);
            userTemplate = TemplateUuid(session, "Smartcard User");
            approvalTemplate = TemplateUuid(session, "Smartcard Manager Approval");
            serverKeysTemplate = TemplateUuid(session, "Server Keys");
            foreach (CmProfileTemplateInfo t in all)
            {
                True(Regex.IsMatch(t.Uuid, "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"), "lower-case uuid " + t.Uuid);
                True(t.Json.Contains(t.Name), "Json holds the name");
                Eq(t.Name != "Server Keys", t.IsSmartcardProfileTemplate, "IsSmartcardProfileTemplate of " + t.Name);
            }
        });

        Test("GetProfileTemplatePolicy: typed fields, both kinds of policy, unknown template is null", delegate
        {
            using (CmObject p = session.GetProfileTemplatePolicy(userTemplate, "enroll"))
            {
                Eq(CmObjectKind.Policy, p.Kind, "Kind");
                True(p.GetBool("Enabled"), "Enroll enabled");
                Eq(0L, p.GetInt64("ApprovalsNeeded"), "ApprovalsNeeded");
                True(p.GetCount("PolicyDataCollection") >= 0, "PolicyDataCollection is an array");
                Throws(CmStatus.FieldMissing, delegate { p.GetString("NoSuchField"); });
                Eq(null, p.GetStringOrNull("NoSuchField"), "OrNull of a missing field");
                Eq(null, p.GetInt64OrNull("NoSuchField"), "Int64OrNull of a missing field");
                True(!p.HasField("NoSuchField") && p.HasField("ENABLED"), "HasField, case-insensitive");
                Throws(CmStatus.FieldType, delegate { p.GetCount("Enabled"); });
                Throws(CmStatus.IndexOutOfRange, delegate { p.GetObjectAt("PolicyDataCollection", 1000); });
                Eq("true", p.GetString("Enabled").ToLowerInvariant(), "a bool rendered as text");
            }
            using (CmObject p = session.GetProfileTemplatePolicy(approvalTemplate, "Enroll"))
                Eq(1L, p.GetInt64("ApprovalsNeeded"), "ApprovalsNeeded of the approval template");
            using (CmObject p = session.GetProfileTemplatePolicy(userTemplate, "TemporaryEnroll"))
                True(!p.GetBool("Enabled"), "TemporaryEnroll not enabled in Smartcard User");
            True(session.GetProfileTemplatePolicy(Guid.NewGuid().ToString(), "Enroll") == null, "unknown template gives null");
            ThrowsArg<ArgumentException>("policyType", delegate { session.GetProfileTemplatePolicy(userTemplate, "Enrol"); });
            ThrowsArg<ArgumentNullException>("policyType", delegate { session.GetProfileTemplatePolicy(userTemplate, null); });
            ThrowsArg<ArgumentException>("templateUuid", delegate { session.GetProfileTemplatePolicy("not-a-guid", "Enroll"); });
        });

        Test("GetSmartcardConfig: admin key hex, diversification, PIN options", delegate
        {
            using (CmObject c = session.GetSmartcardConfig(userTemplate))
            {
                Eq(CmObjectKind.SmartcardConfig, c.Kind, "Kind");
                True(Regex.IsMatch(c.GetString("DefaultAdminKeyHex"), "^[0-9A-Fa-f]{48}$"), "DefaultAdminKeyHex is 48 hex digits");
                True(c.GetBool("DiversifyAdminKey"), "DiversifyAdminKey");
                True(!c.GetBool("ServerProposedPin"), "no server-proposed PIN");
                c.GetInt64("UserPinOption");
            }
            using (CmObject c = session.GetSmartcardConfig(approvalTemplate))
            {
                True(!c.GetBool("diversifyadminkey"), "approval template does not diversify (lower-case field name)");
                True(c.GetBool("ServerProposedPin"), "approval template proposes PINs");
            }
            True(session.GetSmartcardConfig(Guid.NewGuid().ToString()) == null, "unknown template gives null");
        });

        string enrollId = null, cardId = Guid.NewGuid().ToString(), scUuid = null;
        DateTime beforeCreate = DateTime.UtcNow;
        CmRequestSpec enrollSpec = null;

        Test("CreateRequest (Enroll) returns the uuid; GetRequest/ListRequests/FindCreatedRequests see it", delegate
        {
            enrollSpec = new CmRequestSpec("enroll", userTemplate);
            enrollSpec.Comment = "C# test " + Guid.NewGuid().ToString("N");
            enrollSpec.AddData("city", "seattle").AddData("Employee Number", "4711");
            Guid id = session.CreateRequest(enrollSpec);
            True(id != Guid.Empty, "a uuid");
            enrollId = id.ToString();
            CmRequestInfo r = session.GetRequest(enrollId);
            Eq(CmRequestType.Enroll, r.RequestType, "RequestType");
            Eq("Enroll", r.RequestTypeName, "RequestTypeName");
            Eq(CmRequestStatus.Approved, r.Status, "Status (ApprovalsNeeded 0)");
            Eq("Approved", r.StatusName, "StatusName");
            Eq(userTemplate, r.ProfileTemplateUuid, "ProfileTemplateUuid");
            Eq(enrollSpec.Comment, r.Comment, "Comment");
            Eq("", r.NewSmartcardUuid, "no card yet");
            bool listed = false;
            foreach (CmRequestInfo x in session.ListRequests("approved", true)) if (x.Uuid == enrollId) { listed = true; Eq(enrollId, x.RequestId, "RequestId of a listed request"); }
            True(listed, "ListRequests(Approved, mine) lists it");
            foreach (CmRequestInfo x in session.ListRequests("Completed", false)) True(x.Uuid != enrollId, "not among Completed");
            CmRequestInfo[] found = session.FindCreatedRequests(enrollSpec, beforeCreate);
            Eq(1, found.Length, "FindCreatedRequests finds exactly the created request");
            Eq(enrollId, found[0].Uuid, "found uuid");
            var other = new CmRequestSpec("Enroll", userTemplate);
            other.Comment = "never created " + Guid.NewGuid().ToString("N");
            Eq(0, session.FindCreatedRequests(other, beforeCreate).Length, "a spec never sent finds nothing");
        });

        Test("the request's data collection is readable as nested objects", delegate
        {
            CmRequestInfo r = session.GetRequest(enrollId);
            True(r.Json.Contains("seattle"), "Json has the data item");
        });

        byte[] adminKey = null;
        Test("bind the card, then GetAdminKey and GetAuthenticationResponse (3DES-ECB recomputed here)", delegate
        {
            CmAssignResult a = session.AssignSmartcard(enrollId, cardId, Atr);
            scUuid = a.SmartcardUuid;
            Eq(scUuid, session.GetRequest(enrollId).NewSmartcardUuid, "bound");
            adminKey = session.GetAdminKey(enrollId, scUuid, cardId, Atr);
            Eq(24, adminKey.Length, "24-byte admin key");
            byte[] again = session.GetAdminKey(enrollId, "{" + scUuid.ToUpperInvariant() + "}", cardId.ToUpperInvariant(), null);
            Eq(Convert.ToBase64String(adminKey), Convert.ToBase64String(again), "deterministic per card, GUID forms and no ATR accepted");
            Array.Clear(again, 0, again.Length);
            byte[] defaultKey;
            using (CmObject c = session.GetSmartcardConfig(userTemplate)) defaultKey = FromHex(c.GetString("DefaultAdminKeyHex"));
            True(Convert.ToBase64String(adminKey) != Convert.ToBase64String(defaultKey), "diversified key differs from the default");
            byte[] challenge = { 0xd6, 0x11, 0x43, 0xf9, 0xcc, 0xff, 0xd2, 0xca }; // the docs' 1hFD+cz/0so=
            byte[] response = session.GetAuthenticationResponse(enrollId, scUuid, cardId, Atr, challenge, true);
            Eq(BitConverter.ToString(TripleDesEcb(adminKey, challenge)), BitConverter.ToString(response), "diversified response");
            byte[] plain = session.GetAuthenticationResponse(enrollId, scUuid, cardId, Atr, challenge, false);
            Eq(BitConverter.ToString(TripleDesEcb(defaultKey, challenge)), BitConverter.ToString(plain), "response under the default key");
            Throws(CmStatus.HttpForbidden, delegate { session.GetAdminKey(enrollId, scUuid, Guid.NewGuid().ToString(), Atr); });
            Throws(CmStatus.HttpBadRequest, delegate { session.GetAuthenticationResponse(enrollId, scUuid, cardId, Atr, new byte[7], true); });
            Array.Clear(defaultKey, 0, defaultKey.Length);
        });

        CmCsrOption[] options = null;
        Test("GetCsrOptions: one typed item per CSR", delegate
        {
            options = session.GetCsrOptions(enrollId);
            Eq(2, options.Length, "Smartcard User asks for 2 CSRs");
            foreach (CmCsrOption o in options)
            {
                Eq(2048, o.KeySize, "KeySize");
                True(o.KeyAlgorithmName.Length > 0 && o.Subject.Length > 0, "algorithm and subject");
                True(o.Json.Contains("KeyStorageProviderNames") || o.KeyStorageProviderNames.Length == 0, "KSP names");
            }
        });

        Test("SubmitCertificateRequests: openssl CSRs in, PKCS#7 signed by the test CA out; returned once", delegate
        {
            var csrs = new byte[options.Length][];
            for (int i = 0; i < csrs.Length; i++) csrs[i] = MakeCsr(csrDir, i, options[i]);
            CmCertificateData[] certs = session.SubmitCertificateRequests(enrollId, csrs, (string)null, "issued by the C# test");
            True(certs.Length >= csrs.Length, "at least one certificate per CSR (" + certs.Length + ")");
            string caPem = Http("GET", "/_emulator/ca.pem", null);
            string caFile = Path.Combine(csrDir, "ca.pem");
            File.WriteAllText(caFile, caPem);
            var ca = new X509Certificate2(caFile);
            for (int i = 0; i < certs.Length; i++)
            {
                CmCertificateData c = certs[i];
                True(c.IsPkcs7 && c.Pkcs7.Length > 0 && !c.IsPfx, "PKCS#7 item " + i);
                Eq("", c.Error, "Error");
                var cms = new SignedCms();
                cms.Decode(c.Pkcs7);
                bool issued = false;
                foreach (X509Certificate2 x in cms.Certificates)
                    if (x.Issuer == ca.Subject && x.Thumbprint != ca.Thumbprint)
                    {
                        issued = true;
                        string pem = "-----BEGIN CERTIFICATE-----\n" + Convert.ToBase64String(x.RawData, Base64FormattingOptions.InsertLineBreaks) + "\n-----END CERTIFICATE-----\n";
                        string certFile = Path.Combine(csrDir, "cert" + i + ".pem");
                        File.WriteAllText(certFile, pem);
                        True(Run("openssl", "verify -CAfile \"" + caFile + "\" \"" + certFile + "\"").Contains(": OK"), "openssl verify against the test CA");
                    }
                True(issued, "item " + i + " holds a certificate issued by the test CA");
            }
            CmException again = Throws(CmStatus.HttpForbidden, delegate { session.SubmitCertificateRequests(enrollId, csrs, (string)null, null); });
            Eq(403, again.HttpStatus, "certificate data is returned once");
        });

        Test("SetRequestStatus Completed: request 8, card active (an unnamed number kept), operations and certificates", delegate
        {
            CmRequestInfo done = session.SetRequestStatus(enrollId, "completed");
            Eq(CmRequestStatus.Completed, done.Status, "Completed");
            Eq("Completed", done.StatusName, "StatusName");
            CmSmartcardInfo sc = session.GetSmartcard(scUuid);
            Eq((CmSmartcardStatus)3, sc.Status, "card Active (3): a number the binding has no name for survives");
            Eq("3", sc.Status.ToString(), "printed as its number");
            Eq(null, sc.StatusName, "no name");
            string[] ops = session.GetSmartcardOperations(scUuid);
            True(Array.IndexOf(ops, "unblock") >= 0 && Array.IndexOf(ops, "retire") >= 0, "operations: " + String.Join(",", ops));
            using (CmList certs = session.GetSmartcardCertificates(scUuid))
            {
                True(certs.Count >= 2, "card certificates");
                foreach (CmObject c in certs)
                {
                    Eq(CmObjectKind.CardCertificate, c.Kind, "Kind");
                    True(Regex.IsMatch(c.GetString("Thumbprint"), "^[0-9A-Fa-f]{40}$"), "Thumbprint");
                }
                True(certs.Json.StartsWith("["), "list Json");
            }
            using (CmList mine = session.GetUserCertificates())
            {
                True(mine.Count >= 2, "user certificates");
                mine[0].GetString("NotAfter");
            }
            using (CmList profiles = session.ListRequestProfiles(enrollId))
            {
                True(profiles.Count >= 1, "the request's profile");
                string profileId = profiles[0].GetGuid("Uuid").ToString();
                using (CmObject p = session.GetProfile(profileId))
                {
                    Eq(CmObjectKind.Profile, p.Kind, "Kind");
                    Eq(userTemplate, p.GetGuid("ProfileTemplateUuid").ToString(), "ProfileTemplateUuid");
                }
                session.GetProfileOperations(profileId);
                using (CmList pc = session.GetProfileCertificates(profileId)) True(pc.Count >= 2, "profile certificates (" + pc.Count + ")");
                using (CmList all = session.ListProfiles(null)) True(all.Count >= 1, "ListProfiles");
            }
            True(session.GetProfile(Guid.NewGuid().ToString()) == null, "unknown profile gives null");
        });

        Test("Unblock: a request naming the card, challenge/response on it, completed", delegate
        {
            var spec = new CmRequestSpec();
            spec.Type = "Unblock";
            spec.SmartcardUuid = scUuid;
            spec.Comment = "forgot the PIN";
            string unblock = session.CreateRequest(spec).ToString();
            CmRequestInfo r = session.GetRequest(unblock);
            Eq(CmRequestType.Unblock, r.RequestType, "RequestType Unblock (5)");
            byte[] challenge = new byte[8];
            new Random(7).NextBytes(challenge);
            byte[] response = session.GetAuthenticationResponse(unblock, scUuid, cardId, Atr, challenge, true);
            Eq(BitConverter.ToString(TripleDesEcb(adminKey, challenge)), BitConverter.ToString(response), "unblock response");
            Eq(CmRequestStatus.Completed, session.SetRequestStatus(unblock, "Completed").Status, "completed");
        });

        Test("Retire: SetSmartcardStatus Retired gives 6 (named), then completed", delegate
        {
            var spec = new CmRequestSpec();
            spec.Type = "Retire";
            spec.SmartcardUuid = scUuid;
            string retire = session.CreateRequest(spec).ToString();
            CmRequestInfo r = session.GetRequest(retire);
            Eq((CmRequestType)4, r.RequestType, "Retire's number (4 in the emulator) kept without a name");
            Eq(null, r.RequestTypeName, "no documented name for it");
            CmSmartcardInfo sc = session.SetSmartcardStatus(retire, scUuid, "retired");
            Eq(CmSmartcardStatus.Retired, sc.Status, "Retired");
            Eq("Retired", sc.StatusName, "StatusName");
            session.SetRequestStatus(retire, "Completed");
            Eq(CmSmartcardStatus.Retired, session.GetSmartcard(scUuid).Status, "still retired");
        });

        Test("approval: Pending keeps its number; Get-CmRequest -Status Pending | Set-CmRequestStatus -Status Canceled", delegate
        {
            var spec = new CmRequestSpec("Enroll", approvalTemplate);
            string pending = session.CreateRequest(spec).ToString();
            CmRequestInfo r = session.GetRequest(pending);
            Eq((CmRequestStatus)1, r.Status, "Pending (1) kept as a number");
            Eq(null, r.StatusName, "Pending has no documented number");
            Eq("1", r.Status.ToString(), "prints as 1");
            int canceled = 0;
            foreach (CmRequestInfo x in session.ListRequests("Pending", false))
                if (x.Uuid == pending) { session.SetRequestStatus(x.RequestId, "Canceled"); canceled++; }
            Eq(1, canceled, "the pending request was listed and canceled");
            Eq((CmRequestStatus)6, session.GetRequest(pending).Status, "Canceled (6)");
            Throws(CmStatus.HttpForbidden, delegate { session.AssignSmartcard(pending, Guid.NewGuid().ToString(), Atr); });
        });

        Test("server-proposed PIN after approval; forbidden where the template does not propose one", delegate
        {
            string req = session.CreateRequest(new CmRequestSpec("Enroll", approvalTemplate)).ToString();
            Approve(req);
            Eq(CmRequestStatus.Approved, session.GetRequest(req).Status, "approved through the control interface");
            string card = Guid.NewGuid().ToString();
            string sc = session.AssignSmartcard(req, card, Atr).SmartcardUuid;
            using (SecureString pin = session.GetServerProposedPin(req, sc, card, Atr))
            {
                True(pin.IsReadOnly(), "read-only SecureString");
                string text = Plain(pin);
                True(Regex.IsMatch(text, "^[0-9]{8}$"), "an 8-digit PIN");
                using (SecureString byCard = session.GetServerProposedPin(null, sc, card, null))
                    Eq(text, Plain(byCard), "the same PIN asked by card only");
            }
            Throws(CmStatus.HttpForbidden, delegate { session.GetAdminKey(req, sc, card, Atr); });
            session.SetRequestStatus(req, "Abandoned");
        });

        Test("server-generated keys: no CSR options, PFX out for an empty CSR array", delegate
        {
            string req = session.CreateRequest(new CmRequestSpec("Enroll", serverKeysTemplate)).ToString();
            Eq(0, session.GetCsrOptions(req).Length, "204 is an empty array");
            CmCertificateData[] certs = session.SubmitCertificateRequests(req, new byte[0][], "pfx-pass", null);
            True(certs.Length >= 2, "the PFX and the extra item (" + certs.Length + ")");
            bool pfx = false;
            foreach (CmCertificateData c in certs)
                if (c.IsPfx)
                {
                    pfx = true;
                    True(c.IsServerGenerated && c.Pfx.Length > 0, "server-generated PFX");
                    var x = new X509Certificate2(c.Pfx, "pfx-pass");
                    True(x.HasPrivateKey, "the PFX opens with the password and holds the key");
                }
            True(pfx, "a PFX item");
        });

        Test("bad input: ArgumentException family before anything is sent", delegate
        {
            string g = Guid.NewGuid().ToString();
            int before = Count("POST", "/requests");
            ThrowsArg<ArgumentNullException>("spec", delegate { session.CreateRequest(null); });
            ThrowsArg<ArgumentException>("spec", delegate { session.CreateRequest(new CmRequestSpec("Enrol", userTemplate)); });
            ThrowsArg<ArgumentException>("spec", delegate { session.CreateRequest(new CmRequestSpec(null, userTemplate)); });
            ThrowsArg<ArgumentException>("spec", delegate { session.CreateRequest(new CmRequestSpec("Enroll", "{not-a-guid}")); });
            ThrowsArg<ArgumentException>("spec", delegate { session.CreateRequest(new CmRequestSpec("Enroll", null)); });
            ThrowsArg<ArgumentException>("spec", delegate { session.CreateRequest(new CmRequestSpec("Enroll", userTemplate).AddData("", "x")); });
            var badTarget = new CmRequestSpec("Enroll", userTemplate);
            badTarget.TargetUserUuid = "zz";
            ThrowsArg<ArgumentException>("spec", delegate { session.CreateRequest(badTarget); });
            Eq(before, Count("POST", "/requests"), "nothing was sent");
            ThrowsArg<ArgumentException>("status", delegate { session.ListRequests("Pendin", false); });
            ThrowsArg<ArgumentException>("status", delegate { session.SetRequestStatus(g, "Approved"); });
            ThrowsArg<ArgumentNullException>("status", delegate { session.SetRequestStatus(g, null); });
            ThrowsArg<ArgumentException>("status", delegate { session.SetSmartcardStatus(g, g, "Gone"); });
            ThrowsArg<ArgumentException>("status", delegate { session.ListProfiles("Sleeping"); });
            ThrowsArg<ArgumentException>("requestId", delegate { session.SetRequestStatus("123", "Completed"); });
            ThrowsArg<ArgumentNullException>("csrs", delegate { session.SubmitCertificateRequests(g, null, (string)null, null); });
            ThrowsArg<ArgumentException>("csrs", delegate { session.SubmitCertificateRequests(g, new byte[][] { new byte[1], null }, (string)null, null); });
            ThrowsArg<ArgumentException>("csrs", delegate { session.SubmitCertificateRequests(g, new byte[][] { new byte[0] }, (string)null, null); });
            ThrowsArg<ArgumentNullException>("challenge", delegate { session.GetAuthenticationResponse(g, g, g, null, null, true); });
            ThrowsArg<ArgumentException>("challenge", delegate { session.GetAuthenticationResponse(g, g, g, null, new byte[0], true); });
            ThrowsArg<ArgumentException>("cardId", delegate { session.GetAdminKey(g, g, "card", null); });
            ThrowsArg<ArgumentException>("smartcardUuid", delegate { session.GetServerProposedPin(null, "x", g, null); });
            ThrowsArg<ArgumentException>("requestId", delegate { session.GetServerProposedPin("x", g, g, null); });
            ThrowsArg<ArgumentException>("smartcardUuid", delegate { session.GetSmartcardOperations(""); });
            ThrowsArg<ArgumentException>("profileUuid", delegate { session.GetProfile("nope"); });
        });

        Test("bad input reaching the library gives its statuses (raw P/Invoke)", delegate
        {
            // The C checks behind the C# ones: a NULL string, a malformed GUID, an unknown type name.
            var spec = new NativeRequestSpec();
            spec.struct_size = (uint)Marshal.SizeOf(typeof(NativeRequestSpec));
            IntPtr type = Marshal.StringToHGlobalAnsi("Bogus"), tpl = Marshal.StringToHGlobalAnsi(userTemplate), bad = Marshal.StringToHGlobalAnsi("not-a-guid");
            try
            {
                spec.request_type = type;
                spec.profile_template_uuid = tpl;
                spec.priority = -1;
                CmObjectHandle h;
                int rc = NativeMethods.cm_session_create_request(session_handle(session), ref spec, out h);
                h.Dispose();
                Eq((int)CmStatus.InvalidArgument, rc, "unknown request type name");
                spec.request_type = IntPtr.Zero;
                rc = NativeMethods.cm_session_create_request(session_handle(session), ref spec, out h);
                h.Dispose();
                Eq((int)CmStatus.NullArgument, rc, "NULL type");
                CmListHandle l;
                rc = NativeMethods.cm_session_get_csr_options(session_handle(session), bad, out l);
                l.Dispose();
                Eq((int)CmStatus.InvalidGuid, rc, "malformed GUID");
                UIntPtr len;
                rc = NativeMethods.cm_session_get_admin_key(session_handle(session), tpl, tpl, tpl, IntPtr.Zero, null, UIntPtr.Zero, out len);
                True(rc != 0, "admin key of a template uuid fails: " + rc);
            }
            finally { Marshal.FreeHGlobal(type); Marshal.FreeHGlobal(tpl); Marshal.FreeHGlobal(bad); }
        });

        Test("CmObject: EnumUnknown and FieldMissing from the enum accessor, ObjectDisposedException after Dispose", delegate
        {
            var spec = new CmRequestSpec("Enroll", approvalTemplate);
            string pending = session.CreateRequest(spec).ToString();
            foreach (CmRequestInfo x in session.ListRequests("Pending", true)) if (x.Uuid == pending) True(x.StatusName == null, "listed pending without a name");
            CmObject o = null;
            using (CmList list = ListRaw(session))
            {
                foreach (CmObject item in list) if (item.GetGuid("Uuid").ToString() == pending) o = item;
                True(o != null, "the request is in the raw list");
                Eq(1L, o.GetInt64("Status"), "number of Pending");
                Eq(null, o.GetEnumName("Status"), "EnumUnknown gives null");
                Eq("Enroll", o.GetEnumName("requesttype"), "a known name");
                Throws(CmStatus.FieldMissing, delegate { o.GetEnumName("NoSuchEnum"); });
                Eq(null, o.GetEnumNameOrNull("NoSuchEnum"), "OrNull");
                Eq(CmObjectKind.Request, o.Kind, "Kind");
                True(o.GetCount("DataCollection") >= 0, "DataCollection count");
            }
            True(o.IsClosed, "disposing the list disposed its objects");
            try { o.GetString("Uuid"); throw new Exception("no ObjectDisposedException"); }
            catch (ObjectDisposedException) { }
            ThrowsArg<ArgumentNullException>("field", delegate { using (CmList l2 = ListRaw(session)) l2[0].GetString(null); });
            session.SetRequestStatus(pending, "Canceled");
        });

        Test("CmServerUnverifiedResultException keeps its result (a request, a Guid) across serialization", delegate
        {
            CmRequestInfo r = session.GetRequest(enrollId);
            var e = new CmServerUnverifiedResultException(r, "CmSession.SetRequestStatus: unverified", 200, "CmSession.SetRequestStatus");
            var copy = (CmServerUnverifiedResultException)RoundTrip(e);
            Eq(CmStatus.AuthServerUnverified, copy.Status, "Status");
            True(copy.ServerProcessed && !copy.OutcomeUnknown, "processed, outcome known");
            Eq(r.Uuid, ((CmRequestInfo)copy.Result).Uuid, "Result (a CmRequestInfo)");
            Eq(CmRequestStatus.Completed, ((CmRequestInfo)copy.Result).Status, "Result's enum");
            Guid g = Guid.NewGuid();
            Eq(g, (Guid)((CmServerUnverifiedResultException)RoundTrip(new CmServerUnverifiedResultException(g, "m", 201, "f"))).Result, "Result (a Guid)");
        });

        Test("at most once: CreateRequest's lost answer gives OutcomeUnknown; FindCreatedRequests finds the one request", delegate
        {
            var spec = new CmRequestSpec("Enroll", userTemplate);
            spec.Comment = "lost answer " + Guid.NewGuid().ToString("N");
            DateTime before = DateTime.UtcNow;
            int posts = Count("POST", "/api/v1.0/requests");
            Fault("close-after-read=apply:POST:/api/v1.0/requests:1");
            try
            {
                CmException e = Throws(CmStatus.OutcomeUnknown, delegate { session.CreateRequest(spec); });
                True(e.OutcomeUnknown && e.Function == "CmSession.CreateRequest", "OutcomeUnknown from CreateRequest");
            }
            finally { ClearFaults(); }
            Eq(posts + 1, Count("POST", "/api/v1.0/requests"), "the POST was sent exactly once");
            CmRequestInfo[] found = session.FindCreatedRequests(spec, before);
            Eq(1, found.Length, "the reconcile finds the request the lost answer created");
            Eq(CmRequestStatus.Approved, found[0].Status, "and it is usable");
        });

        Test("at most once: certificate data, request status and card status are sent once on a lost answer", delegate
        {
            string id = session.CreateRequest(new CmRequestSpec("Enroll", userTemplate)).ToString();
            string card = Guid.NewGuid().ToString();
            string sc = session.AssignSmartcard(id, card, Atr).SmartcardUuid;
            CmCsrOption[] opts = session.GetCsrOptions(id);
            var csrs = new byte[opts.Length][];
            for (int i = 0; i < csrs.Length; i++) csrs[i] = MakeCsr(csrDir, 20 + i, opts[i]);
            int posts = Count("POST", "/certificatedata");
            Fault("close-after-read=apply:POST:/certificatedata:1");
            try { Throws(CmStatus.OutcomeUnknown, delegate { session.SubmitCertificateRequests(id, csrs, (string)null, null); }); }
            finally { ClearFaults(); }
            Eq(posts + 1, Count("POST", "/certificatedata"), "certificate data POSTed exactly once");
            Throws(CmStatus.HttpForbidden, delegate { session.SubmitCertificateRequests(id, csrs, (string)null, null); });
            using (CmList issued = session.GetSmartcardCertificates(sc))
                Eq(csrs.Length, issued.Count, "the card's certificates show what the lost answer held");

            int puts = Count("PUT", "/requests/" + id);
            Fault("close-after-read=apply:PUT:/requests/" + id + ":1");
            try { Throws(CmStatus.OutcomeUnknown, delegate { session.SetRequestStatus(id, "Completed"); }); }
            finally { ClearFaults(); }
            Eq(puts + 1, Count("PUT", "/requests/" + id), "PUT /requests/{id} sent exactly once");
            Eq(CmRequestStatus.Completed, session.GetRequest(id).Status, "GetRequest shows it took effect");

            var retireSpec = new CmRequestSpec();
            retireSpec.Type = "Retire";
            retireSpec.SmartcardUuid = sc;
            string retire = session.CreateRequest(retireSpec).ToString();
            int cardPuts = Count("PUT", "/smartcards/" + sc);
            Fault("close-after-read=apply:PUT:/smartcards/" + sc + ":1");
            try { Throws(CmStatus.OutcomeUnknown, delegate { session.SetSmartcardStatus(retire, sc, "Retired"); }); }
            finally { ClearFaults(); }
            Eq(cardPuts + 1, Count("PUT", "/smartcards/" + sc), "PUT .../smartcards/{sid} sent exactly once");
            Eq(CmSmartcardStatus.Retired, session.GetSmartcard(sc).Status, "GetSmartcard shows it took effect");
        });

        // PowerShell cannot run here: these are the binding calls the enrollment cmdlets make, with their omitted
        // string parameters as PowerShell passes them ("" for $null).
        Test("module: enrollment cmdlets with omitted strings as \"\"", delegate
        {
            // Get-CmProfileTemplate (no -Name) ; Get-CmRequest (no -Status, no -Mine) ; Get-CmProfile (no -Status)
            True(session.ListProfileTemplates().Length >= 3, "Get-CmProfileTemplate");
            True(session.ListRequests("", false).Length >= 1, "Get-CmRequest lists with -Status \"\"");
            using (CmList p = session.ListProfiles("")) True(p.Count >= 1, "Get-CmProfile");
            // New-CmRequest -Type Enroll -ProfileTemplateUuid $t (no -SmartcardUuid/-TargetUserUuid/-Comment, -Priority -1)
            var spec = new CmRequestSpec();
            spec.Type = "Enroll"; spec.ProfileTemplateUuid = userTemplate; spec.SmartcardUuid = ""; spec.TargetUserUuid = "";
            spec.Comment = ""; spec.Priority = -1;
            DateTime t0 = DateTime.UtcNow.AddSeconds(-1);
            string id = session.CreateRequest(spec).ToString();
            CmRequestInfo r = session.GetRequest(id);
            Eq("", r.Comment, "no comment");
            // Find-CmCreatedRequest with the same parameters finds it (among other comment-less requests of the same kind)
            bool found = false;
            foreach (CmRequestInfo x in session.FindCreatedRequests(spec, t0)) found |= x.Uuid == id;
            True(found, "Find-CmCreatedRequest");
            // Register-CmSmartcard ; Get-CmAdminKey / Get-CmAuthenticationResponse without -Atr ; Get-CmServerProposedPin without -RequestId
            string card = Guid.NewGuid().ToString();
            string sc = session.AssignSmartcard(id, card, "").SmartcardUuid;
            byte[] key = session.GetAdminKey(id, sc, card, "");
            byte[] challenge = FromHex("D61143F9CCFFD2CA"); // Get-CmAuthenticationResponse -ChallengeHex
            Eq(BitConverter.ToString(TripleDesEcb(key, challenge)), BitConverter.ToString(session.GetAuthenticationResponse(id, sc, card, "", challenge, true)), "-Diversified");
            Array.Clear(key, 0, key.Length);
            Throws(CmStatus.HttpForbidden, delegate { session.GetServerProposedPin("", sc, card, ""); });
            // Send-CmCertificateRequest -Path ... (no -PfxPassword: [string]'', no -Comment)
            CmCsrOption[] opts = session.GetCsrOptions(id);
            var csrs = new byte[opts.Length][];
            for (int i = 0; i < csrs.Length; i++) csrs[i] = MakeCsr(csrDir, 10 + i, opts[i]);
            True(session.SubmitCertificateRequests(id, csrs, "", "").Length >= csrs.Length, "Send-CmCertificateRequest");
            // Get-CmRequest -Status Executing -Mine | Set-CmRequestStatus -Status Completed (only ours; certificate data makes it Executing)
            foreach (CmRequestInfo x in session.ListRequests("Executing", true)) if (x.RequestId == id) session.SetRequestStatus(x.RequestId, "Completed");
            Eq(CmRequestStatus.Completed, session.GetRequest(id).Status, "completed through the pipeline");
            // Get-CmSmartcardOperation / Get-CmSmartcardCertificate -SmartcardUuid ; Get-CmUserCertificate
            True(session.GetSmartcardOperations(sc).Length > 0, "Get-CmSmartcardOperation");
            using (CmList c = session.GetSmartcardCertificates(sc)) True(c.Count >= csrs.Length, "Get-CmSmartcardCertificate");
        });

        Test("a disposed session refuses the new calls", delegate
        {
            var s2 = new CmSession(Conn());
            s2.Dispose();
            try { s2.ListProfileTemplates(); throw new Exception("no ObjectDisposedException"); }
            catch (ObjectDisposedException) { }
        });

        session.Dispose();
        try { Directory.Delete(csrDir, true); } catch (IOException) { }
    }

    // The raw requests of the caller, as CmObjects (the generic accessors on a real answer).
    static CmList ListRaw(CmSession session)
    {
        CmListHandle h;
        int rc = NativeMethods.cm_session_list_requests(session_handle(session), IntPtr.Zero, 1, out h);
        return Results.List(rc, h, "test");
    }

    static CmSessionHandle session_handle(CmSession s)
    {
        return (CmSessionHandle)typeof(CmSession).GetField("handle", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance).GetValue(s);
    }
}
