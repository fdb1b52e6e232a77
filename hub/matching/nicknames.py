"""Common German, English and French nicknames -> the full first name (folded spelling).

A short list beats no list: "Sepp Huber" and "Josef Huber" born the same day are one
person far more often than not. Names are folded like ``profile.fold`` (ü -> ue).
"""

from __future__ import annotations

_GROUPS = {
    "johannes": "hans hannes jo", "josef": "sepp seppl joschi", "joseph": "joe jo",
    "friedrich": "fritz", "wilhelm": "willi willy", "heinrich": "heinz hein",
    "ulrich": "uli ulli", "bernhard": "bernd", "matthias": "matze matti",
    "nikolaus": "klaus niko", "andreas": "andi anderl", "sebastian": "basti",
    "florian": "flo", "tobias": "tobi", "maximilian": "max maxi", "alexander": "alex",
    "christian": "chris", "christoph": "christoph", "michael": "michi mike micha",
    "thomas": "tom tommy", "stefan": "steffen", "daniel": "dani danny",
    "katharina": "kathi kati kaethe katja", "gabriele": "gabi", "susanne": "susi sanne",
    "stefanie": "steffi", "elisabeth": "lisa liesl elli sisi", "theresa": "resi",
    "magdalena": "lena leni", "margarete": "grete gretel", "johanna": "hanna",
    "barbara": "babsi baerbel", "franziska": "franzi",
    "anton": "toni", "robert": "bob bobby rob robbie", "william": "bill billy will liam",
    "richard": "dick rick ricky", "james": "jim jimmy", "elizabeth": "liz beth betty",
    "margaret": "maggie peggy meg", "katherine": "kate katie kathy", "edward": "ed eddie ted",
    "charles": "charlie chuck", "jennifer": "jenny jen", "patricia": "patty trish",
    "nicholas": "nick", "benjamin": "ben", "samuel": "sam", "jean": "jeannot",
    "francois": "francky", "guillaume": "guigui",
}

NICKNAMES: dict[str, str] = {nick: full for full, nicks in _GROUPS.items()
                             for nick in nicks.split() if nick != full}
