-- Standard Webhooks: a secret is "whsec_" + base64 of the HMAC key. Secrets issued before were
-- "whsec_" + URL-safe text used whole, as UTF-8, as the key. Re-encode them so that every
-- receiver keeps its key: the new string decodes to exactly the bytes the old one signed with.
UPDATE webhook
   SET secret = 'whsec_' || translate(encode(convert_to(secret, 'UTF8'), 'base64'), E'\n', '');
