"""Which attributes an entry of the configured object classes may hold, for ``mapping check``.

Read from the server's subschema (RFC 4512 section 4.2) when the directory can be reached;
otherwise a static copy of the standard classes scim-sync configures by default
(inetOrgPerson and its superiors, groupOfNames, groupOfUniqueNames; RFC 4519 and RFC 2798).
A configured class outside that copy leaves the static check unable to judge, and it says so.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from connectors.ldap.session import Session

_NAMES = re.compile(r"NAME\s+(?:'([^']*)'|\(\s*((?:'[^']*'\s*)+)\))")
_LIST = r"\s+(?:([\w;-]+)|\(\s*([^)]*)\))"
_SUP = re.compile(r"\bSUP" + _LIST)
_MUST = re.compile(r"\bMUST" + _LIST)
_MAY = re.compile(r"\bMAY" + _LIST)


@dataclass(frozen=True)
class ObjectClass:
    names: tuple[str, ...]
    superior: tuple[str, ...]
    must: tuple[str, ...]
    may: tuple[str, ...]


@dataclass(frozen=True)
class DirectorySchema:
    """Object classes and attribute-type aliases, looked up without case."""

    classes: Mapping[str, ObjectClass]
    aliases: Mapping[str, frozenset[str]]
    origin: str
    """``server`` (the subschema entry) or ``static`` (the copy in this module)."""

    def unknown_classes(self, names: Iterable[str]) -> list[str]:
        return [n for n in names if n.casefold() not in self.classes]

    def allowed(self, class_names: Iterable[str]) -> frozenset[str]:
        """Every attribute name (aliases included, folded) the classes and their superiors
        allow, MUST and MAY alike."""
        out: set[str] = set()
        pending = [n.casefold() for n in class_names]
        seen: set[str] = set()
        while pending:
            name = pending.pop()
            if name in seen or name not in self.classes:
                continue
            seen.add(name)
            found = self.classes[name]
            pending.extend(s.casefold() for s in found.superior)
            for attribute in (*found.must, *found.may):
                key = attribute.casefold()
                out |= self.aliases.get(key, frozenset({key}))
        return frozenset(out)

    def required(self, class_names: Iterable[str]) -> frozenset[str]:
        """The MUST attributes (folded, aliases included) of the classes and superiors."""
        out: set[str] = set()
        for name in class_names:
            found = self.classes.get(name.casefold())
            while found is not None:
                for attribute in found.must:
                    key = attribute.casefold()
                    out |= self.aliases.get(key, frozenset({key}))
                parent = found.superior[0].casefold() if found.superior else ""
                found = self.classes.get(parent)
        return frozenset(out)


def _words(match: re.Match[str] | None) -> tuple[str, ...]:
    if match is None:
        return ()
    one, many = match.group(1), match.group(2)
    if one:
        return (one,)
    return tuple(w.strip() for w in (many or "").split("$") if w.strip())


def _names(definition: str) -> tuple[str, ...]:
    match = _NAMES.search(definition)
    if match is None:
        return ()
    if match.group(1) is not None:
        return (match.group(1),)
    return tuple(re.findall(r"'([^']*)'", match.group(2)))


def parse_schema(
    object_classes: Sequence[str], attribute_types: Sequence[str], origin: str
) -> DirectorySchema:
    """A schema from ``objectClasses`` and ``attributeTypes`` values (RFC 4512 syntax)."""
    classes: dict[str, ObjectClass] = {}
    for definition in object_classes:
        names = _names(definition)
        found = ObjectClass(
            names,
            _words(_SUP.search(definition)),
            _words(_MUST.search(definition)),
            _words(_MAY.search(definition)),
        )
        for name in names:
            classes[name.casefold()] = found
    aliases: dict[str, frozenset[str]] = {}
    for definition in attribute_types:
        names = _names(definition)
        folded = frozenset(n.casefold() for n in names)
        for name in folded:
            aliases[name] = folded
    return DirectorySchema(classes, aliases, origin)


def read_schema(session: Session) -> DirectorySchema:
    """The server's own schema, from the subschema entry its root DSE names."""
    root = session.read("", ["subschemaSubentry"])
    where = root.get("subschemaSubentry") if root is not None else []
    entry = session.read(where[0] if where else "cn=Subschema", ["objectClasses", "attributeTypes"])
    if entry is None:
        raise LookupError("the server published no subschema entry")
    return parse_schema(entry.get("objectClasses"), entry.get("attributeTypes"), "server")


_STATIC_CLASSES = (
    "( 2.5.6.0 NAME 'top' ABSTRACT MUST objectClass )",
    "( 2.5.6.6 NAME 'person' SUP top STRUCTURAL MUST ( sn $ cn ) "
    "MAY ( userPassword $ telephoneNumber $ seeAlso $ description ) )",
    "( 2.5.6.7 NAME 'organizationalPerson' SUP person STRUCTURAL MAY ( title $ x121Address $ "
    "registeredAddress $ destinationIndicator $ preferredDeliveryMethod $ telexNumber $ "
    "teletexTerminalIdentifier $ telephoneNumber $ internationaliSDNNumber $ "
    "facsimileTelephoneNumber $ street $ postOfficeBox $ postalCode $ postalAddress $ "
    "physicalDeliveryOfficeName $ ou $ st $ l ) )",
    "( 2.16.840.1.113730.3.2.2 NAME 'inetOrgPerson' SUP organizationalPerson STRUCTURAL "
    "MAY ( audio $ businessCategory $ carLicense $ departmentNumber $ displayName $ "
    "employeeNumber $ employeeType $ givenName $ homePhone $ homePostalAddress $ initials $ "
    "jpegPhoto $ labeledURI $ mail $ manager $ mobile $ o $ pager $ photo $ roomNumber $ "
    "secretary $ uid $ userCertificate $ x500uniqueIdentifier $ preferredLanguage $ "
    "userSMIMECertificate $ userPKCS12 ) )",
    "( 2.5.6.9 NAME 'groupOfNames' SUP top STRUCTURAL MUST ( member $ cn ) "
    "MAY ( businessCategory $ seeAlso $ owner $ ou $ o $ description ) )",
    "( 2.5.6.17 NAME 'groupOfUniqueNames' SUP top STRUCTURAL MUST ( uniqueMember $ cn ) "
    "MAY ( businessCategory $ seeAlso $ owner $ ou $ o $ description ) )",
)
_STATIC_ALIASES = (
    "( 2.5.4.3 NAME ( 'cn' 'commonName' ) )",
    "( 2.5.4.4 NAME ( 'sn' 'surname' ) )",
    "( 2.5.4.7 NAME ( 'l' 'localityName' ) )",
    "( 2.5.4.8 NAME ( 'st' 'stateOrProvinceName' ) )",
    "( 2.5.4.9 NAME ( 'street' 'streetAddress' ) )",
    "( 2.5.4.10 NAME ( 'o' 'organizationName' ) )",
    "( 2.5.4.11 NAME ( 'ou' 'organizationalUnitName' ) )",
    "( 2.5.4.42 NAME ( 'givenName' 'gn' ) )",
    "( 0.9.2342.19200300.100.1.1 NAME ( 'uid' 'userid' ) )",
    "( 0.9.2342.19200300.100.1.3 NAME ( 'mail' 'rfc822Mailbox' ) )",
)

STATIC_SCHEMA = parse_schema(_STATIC_CLASSES, _STATIC_ALIASES, "static")
"""The default object classes, for checks that cannot (or must not) reach the server."""
