"""Privacy: everything personal is reduced or removed here, before anything is written.

- `ip`: truncation (IPv4 /24, IPv6 /48), used only inside the visitor hash;
- `salts`: random daily salts, deleted after 48 hours;
- `pii`: placeholders for e-mail addresses, phone numbers, IBANs, tax ids, IPs in text;
- `urls`: query strings reduced to an allow-list;
- `kanon`: the k-anonymity threshold for anything shown to people.
"""
