#!/usr/bin/env python3
"""Verifies a signed SAML 2.0 assertion with signxml and prints its fields as JSON.

Usage: python3 tests/python/verify_saml.py --cert CERT.pem < assertion.xml

The assertion XML (raw, not base64) comes on stdin. On success the script exits 0 and prints one
JSON object whose fields are read from the tree signxml verified, never from the raw input, so
content outside the signed reference cannot leak into the result. On any failure it exits 1 with
a one-line reason on stderr.
"""

import argparse
import json
import sys

from lxml import etree
from signxml import XMLVerifier

SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
DS = "http://www.w3.org/2000/09/xmldsig#"
NS = {"saml": SAML, "ds": DS}
ASSERTION_TAG = f"{{{SAML}}}Assertion"


class Failure(Exception):
    """A verification failure whose message is the reason printed on stderr."""


class ArgumentParser(argparse.ArgumentParser):
    """An argument parser that reports usage errors like every other failure: one line, exit 1."""

    def error(self, message):
        print(f"verification failed: usage: {message}", file=sys.stderr)
        sys.exit(1)


def one(parent, path):
    """Returns the single element at path below parent, failing if it is missing or repeated."""
    found = parent.findall(path, NS)
    if len(found) != 1:
        raise Failure(f"expected exactly one {path}, found {len(found)}")
    return found[0]


def required_attribute(element, name):
    """Returns an attribute that the assertion must carry."""
    value = element.get(name)
    if value is None:
        raise Failure(f"{etree.QName(element).localname} lacks the {name} attribute")
    return value


def check_root(xml_bytes):
    """Checks that the document is an Assertion with the Signature right after the Issuer.

    The input is parsed here only to learn the root's identity; no field is read from it.
    """
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    root = etree.fromstring(xml_bytes, parser)
    if root.tag != ASSERTION_TAG:
        raise Failure(f"the document root is {root.tag}, not a saml:Assertion")
    root_id = required_attribute(root, "ID")
    children = [child for child in root if isinstance(child.tag, str)]
    tags = [child.tag for child in children[:2]]
    if tags != [f"{{{SAML}}}Issuer", f"{{{DS}}}Signature"]:
        raise Failure("the assertion must start with saml:Issuer followed by ds:Signature")
    return root_id


def verify(xml_bytes, cert_pem):
    """Verifies the signature and returns the fields of the verified assertion."""
    root_id = check_root(xml_bytes)
    result = XMLVerifier().verify(xml_bytes, x509_cert=cert_pem)
    signed = result.signed_xml
    if signed is None:
        raise Failure("the signed content is not an XML element")
    # The signature must cover the whole assertion, not some element nested inside it; the IDs are
    # unique (signxml rejects ambiguous references), so matching the root's ID proves it.
    if signed.tag != ASSERTION_TAG or signed.get("ID") != root_id:
        raise Failure("the signature does not cover the assertion root")

    subject = one(signed, "saml:Subject")
    name_id = one(subject, "saml:NameID")
    confirmation = one(subject, "saml:SubjectConfirmation")
    confirmation_data = one(confirmation, "saml:SubjectConfirmationData")
    conditions = one(signed, "saml:Conditions")
    authn = one(signed, "saml:AuthnStatement")

    not_on_or_after = required_attribute(conditions, "NotOnOrAfter")
    if required_attribute(confirmation_data, "NotOnOrAfter") != not_on_or_after:
        raise Failure("SubjectConfirmationData and Conditions disagree on NotOnOrAfter")

    return {
        "id": signed.get("ID"),
        "issue_instant": required_attribute(signed, "IssueInstant"),
        "issuer": one(signed, "saml:Issuer").text or "",
        "name_id": name_id.text or "",
        "name_id_format": name_id.get("Format"),
        "name_qualifier": name_id.get("NameQualifier"),
        "audience": one(conditions, "saml:AudienceRestriction/saml:Audience").text or "",
        "recipient": required_attribute(confirmation_data, "Recipient"),
        "not_on_or_after": not_on_or_after,
        "not_before": required_attribute(conditions, "NotBefore"),
        "authn_context_class_ref": one(authn, "saml:AuthnContext/saml:AuthnContextClassRef").text
        or "",
        "session_index": authn.get("SessionIndex"),
        "subject_confirmation_method": required_attribute(confirmation, "Method"),
    }


def main():
    parser = ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cert", required=True, help="PEM file of the signing certificate")
    args = parser.parse_args()
    try:
        with open(args.cert, encoding="ascii") as cert_file:
            cert_pem = cert_file.read()
        xml_bytes = sys.stdin.buffer.read()
        if not xml_bytes.strip():
            raise Failure("no assertion on stdin")
        fields = verify(xml_bytes, cert_pem)
    except Exception as error:  # Every failure, whatever its kind, must end as exit status 1.
        reason = " ".join(str(error).split()) or type(error).__name__
        print(f"verification failed: {type(error).__name__}: {reason}", file=sys.stderr)
        return 1
    print(json.dumps(fields))
    return 0


if __name__ == "__main__":
    sys.exit(main())
