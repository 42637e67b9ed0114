"""Equipment as a client reads it in an email: its kind in the client's
language, then its brand and model.

An equipment's `kind` is free text (whatever the shop typed). The common
kinds below are shown translated, whether they were typed in English or in
French, in the singular or the plural, with any case, hyphens or
underscores ("Laptop", "washing_machine", "Lave-linge"); any other kind is
shown as it was given.
"""

# canonical English name: (French, English), then the other spellings it is known by
KINDS = {
    "laptop": (("ordinateur portable", "laptop"), ("notebook", "pc portable", "macbook")),
    "desktop": (("ordinateur de bureau", "desktop computer"),
                ("desktop computer", "pc", "tour", "unite centrale")),
    "computer": (("ordinateur", "computer"), ()),
    "all-in-one computer": (("ordinateur tout-en-un", "all-in-one computer"), ("all in one", "imac")),
    "monitor": (("écran", "monitor"), ("screen", "display", "ecran", "moniteur")),
    "smartphone": (("smartphone", "smartphone"), ("mobile phone", "mobile", "cell phone",
                                                   "telephone portable", "portable phone")),
    "phone": (("téléphone", "phone"), ("telephone", "landline")),
    "tablet": (("tablette", "tablet"), ("ipad",)),
    "printer": (("imprimante", "printer"), ()),
    "scanner": (("scanner", "scanner"), ()),
    "router": (("routeur", "router"), ("box", "modem", "box internet")),
    "server": (("serveur", "server"), ()),
    "game console": (("console de jeux", "game console"), ("console", "games console")),
    "camera": (("appareil photo", "camera"), ()),
    "tv": (("téléviseur", "TV"), ("television", "televiseur", "tele", "télé")),
    "washing machine": (("lave-linge", "washing machine"), ("washer", "machine a laver")),
    "tumble dryer": (("sèche-linge", "tumble dryer"), ("dryer", "seche linge")),
    "washer dryer": (("lave-linge séchant", "washer dryer"), ("lave linge sechant",)),
    "dishwasher": (("lave-vaisselle", "dishwasher"), ("lave vaisselle",)),
    "fridge": (("réfrigérateur", "fridge"), ("refrigerator", "refrigerateur", "frigo")),
    "freezer": (("congélateur", "freezer"), ("congelateur",)),
    "fridge freezer": (("réfrigérateur-congélateur", "fridge freezer"),
                       ("refrigerateur congelateur", "combi")),
    "oven": (("four", "oven"), ()),
    "microwave": (("four à micro-ondes", "microwave"), ("micro ondes", "micro-ondes",
                                                          "four a micro ondes", "microwave oven")),
    "hob": (("plaque de cuisson", "hob"), ("cooktop", "stove", "plaque", "table de cuisson")),
    "cooker hood": (("hotte", "cooker hood"), ("range hood", "extractor hood")),
    "coffee machine": (("machine à café", "coffee machine"), ("coffee maker", "machine a cafe",
                                                               "cafetiere", "expresso")),
    "vacuum cleaner": (("aspirateur", "vacuum cleaner"), ("vacuum", "hoover")),
    "boiler": (("chaudière", "boiler"), ("chaudiere", "furnace")),
    "water heater": (("chauffe-eau", "water heater"), ("chauffe eau", "ballon d'eau chaude",
                                                        "cumulus", "hot water tank")),
    "heat pump": (("pompe à chaleur", "heat pump"), ("pompe a chaleur", "pac")),
    "air conditioner": (("climatiseur", "air conditioner"), ("air conditioning", "climatisation",
                                                             "clim", "ac unit")),
    "radiator": (("radiateur", "radiator"), ("heater",)),
    "electric bike": (("vélo électrique", "electric bike"), ("e-bike", "ebike", "velo electrique",
                                                            "vae")),
    "electric scooter": (("trottinette électrique", "electric scooter"),
                         ("e-scooter", "trottinette", "trottinette electrique")),
}

LANGUAGE_INDEX = {"fr": 0, "en": 1}

_ACCENTS = str.maketrans("àâäéèêëîïôöùûüç", "aaaeeeeiioouuuc")


def normalise(kind):
    """The spelling the table is looked up by: lower case, no accents, words
    separated by one space, a plural "s" (or "x") dropped."""
    text = " ".join(str(kind).lower().replace("_", " ").replace("-", " ").split())
    return text.translate(_ACCENTS)


def _singular(text):
    words = text.split(" ")
    words = [w[:-1] if len(w) > 3 and w[-1] in "sx" and not w.endswith("ss") else w for w in words]
    return " ".join(words)


def _index():
    index = {}
    for canonical, (names, aliases) in KINDS.items():
        for spelling in (canonical, *names, *aliases):
            key = normalise(spelling)
            index.setdefault(key, canonical)
            index.setdefault(_singular(key), canonical)
    return index


_BY_SPELLING = _index()


def known_kind(kind):
    """The table's name of `kind`, or None when it is not a common one."""
    if not kind or not str(kind).strip():
        return None
    key = normalise(kind)
    return _BY_SPELLING.get(key) or _BY_SPELLING.get(_singular(key))


def kind_label(kind, language):
    """The kind as the client reads it: translated when known, else as given."""
    canonical = known_kind(kind)
    if canonical is None:
        return str(kind).strip() if kind else ""
    return KINDS[canonical][0][LANGUAGE_INDEX.get(language, 0)]


def describe(equipment, language):
    """e.g. fr "ordinateur portable Lenovo T14", en "laptop Lenovo T14";
    "" when nothing is known."""
    equipment = equipment or {}
    parts = (kind_label(equipment.get("kind"), language), equipment.get("brand"), equipment.get("model"))
    return " ".join(str(part).strip() for part in parts if part and str(part).strip())
