"""INSDC's geographic location vocabulary, and checking a value against it.

ENA's sample checklists take a country or sea from this list in
``geographic location (country and/or sea)`` and the rest in
``geographic location (region and locality)``; INSDC's own qualifier
writes both as ``Country: region, locality``. The names are INSDC's
(https://www.insdc.org/submitting-standards/geo_loc_name-qualifier-vocabulary/).
"""

from __future__ import annotations

from dataclasses import dataclass

from .vocab import INSDC_MISSING

COUNTRIES_AND_SEAS = (
    "Afghanistan", "Albania", "Algeria", "American Samoa", "Andorra", "Angola", "Anguilla",
    "Antarctica", "Antigua and Barbuda", "Arctic Ocean", "Argentina", "Armenia", "Aruba",
    "Ashmore and Cartier Islands", "Atlantic Ocean", "Australia", "Austria", "Azerbaijan",
    "Bahamas", "Bahrain", "Baker Island", "Baltic Sea", "Bangladesh", "Barbados",
    "Bassas da India", "Belarus", "Belgium", "Belize", "Benin", "Bermuda", "Bhutan", "Bolivia",
    "Borneo", "Bosnia and Herzegovina", "Botswana", "Bouvet Island", "Brazil",
    "British Virgin Islands", "Brunei", "Bulgaria", "Burkina Faso", "Burundi", "Cambodia",
    "Cameroon", "Canada", "Cape Verde", "Cayman Islands", "Central African Republic", "Chad",
    "Chile", "China", "Christmas Island", "Clipperton Island", "Cocos Islands", "Colombia",
    "Comoros", "Cook Islands", "Coral Sea Islands", "Costa Rica", "Cote d'Ivoire", "Croatia",
    "Cuba", "Curacao", "Cyprus", "Czechia", "Democratic Republic of the Congo", "Denmark",
    "Djibouti", "Dominica", "Dominican Republic", "Ecuador", "Egypt", "El Salvador",
    "Equatorial Guinea", "Eritrea", "Estonia", "Eswatini", "Ethiopia", "Europa Island",
    "Falkland Islands (Islas Malvinas)", "Faroe Islands", "Fiji", "Finland", "France",
    "French Guiana", "French Polynesia", "French Southern and Antarctic Lands", "Gabon",
    "Gambia", "Gaza Strip", "Georgia", "Germany", "Ghana", "Gibraltar", "Glorioso Islands",
    "Greece", "Greenland", "Grenada", "Guadeloupe", "Guam", "Guatemala", "Guernsey", "Guinea",
    "Guinea-Bissau", "Guyana", "Haiti", "Heard Island and McDonald Islands", "Honduras",
    "Hong Kong", "Howland Island", "Hungary", "Iceland", "India", "Indian Ocean", "Indonesia",
    "Iran", "Iraq", "Ireland", "Isle of Man", "Israel", "Italy", "Jamaica", "Jan Mayen", "Japan",
    "Jarvis Island", "Jersey", "Johnston Atoll", "Jordan", "Juan de Nova Island", "Kazakhstan",
    "Kenya", "Kerguelen Archipelago", "Kingman Reef", "Kiribati", "Kosovo", "Kuwait",
    "Kyrgyzstan", "Laos", "Latvia", "Lebanon", "Lesotho", "Liberia", "Libya", "Liechtenstein",
    "Line Islands", "Lithuania", "Luxembourg", "Macau", "Madagascar", "Malawi", "Malaysia",
    "Maldives", "Mali", "Malta", "Marshall Islands", "Martinique", "Mauritania", "Mauritius",
    "Mayotte", "Mediterranean Sea", "Mexico", "Micronesia, Federated States of",
    "Midway Islands", "Moldova", "Monaco", "Mongolia", "Montenegro", "Montserrat", "Morocco",
    "Mozambique", "Myanmar", "Namibia", "Nauru", "Navassa Island", "Nepal", "Netherlands",
    "New Caledonia", "New Zealand", "Nicaragua", "Niger", "Nigeria", "Niue", "Norfolk Island",
    "North Korea", "North Macedonia", "North Sea", "Northern Mariana Islands", "Norway", "Oman",
    "Pacific Ocean", "Pakistan", "Palau", "Palmyra Atoll", "Panama", "Papua New Guinea",
    "Paracel Islands", "Paraguay", "Peru", "Philippines", "Pitcairn Islands", "Poland",
    "Portugal", "Puerto Rico", "Qatar", "Republic of the Congo", "Reunion", "Romania",
    "Ross Sea", "Russia", "Rwanda", "Saint Barthelemy", "Saint Helena", "Saint Kitts and Nevis",
    "Saint Lucia", "Saint Martin", "Saint Pierre and Miquelon",
    "Saint Vincent and the Grenadines", "Samoa", "San Marino", "Sao Tome and Principe",
    "Saudi Arabia", "Senegal", "Serbia", "Seychelles", "Sierra Leone", "Singapore",
    "Sint Maarten", "Slovakia", "Slovenia", "Solomon Islands", "Somalia", "South Africa",
    "South Georgia and the South Sandwich Islands", "South Korea", "South Sudan",
    "Southern Ocean", "Spain", "Spratly Islands", "Sri Lanka", "State of Palestine", "Sudan",
    "Suriname", "Svalbard", "Sweden", "Switzerland", "Syria", "Taiwan", "Tajikistan",
    "Tanzania", "Tasman Sea", "Thailand", "Timor-Leste", "Togo", "Tokelau", "Tonga",
    "Trinidad and Tobago", "Tromelin Island", "Tunisia", "Turkey", "Turkmenistan",
    "Turks and Caicos Islands", "Tuvalu", "Uganda", "Ukraine", "United Arab Emirates",
    "United Kingdom", "Uruguay", "USA", "Uzbekistan", "Vanuatu", "Venezuela", "Viet Nam",
    "Virgin Islands", "Wake Island", "Wallis and Futuna", "West Bank", "Western Sahara",
    "Yemen", "Zambia", "Zimbabwe",
)  # fmt: skip

# Names people write that the list spells otherwise: suggested, never silently replaced.
OTHER_NAMES = {
    "czech republic": "Czechia",
    "swaziland": "Eswatini",
    "macedonia": "North Macedonia",
    "burma": "Myanmar",
    "east timor": "Timor-Leste",
    "vietnam": "Viet Nam",
    "united states": "USA",
    "united states of america": "USA",
    "us": "USA",
    "uk": "United Kingdom",
    "great britain": "United Kingdom",
    "england": "United Kingdom",
    "scotland": "United Kingdom",
    "russian federation": "Russia",
    "türkiye": "Turkey",
    "turkiye": "Turkey",
    "ivory coast": "Cote d'Ivoire",
    "palestine": "State of Palestine",
    "korea": "South Korea",
    "republic of korea": "South Korea",
    "cabo verde": "Cape Verde",
    "norge": "Norway",
    "noreg": "Norway",
    "sverige": "Sweden",
    "danmark": "Denmark",
    "suomi": "Finland",
    "deutschland": "Germany",
    "the netherlands": "Netherlands",
    "holland": "Netherlands",
    "norwegian sea": "Atlantic Ocean",
    "barents sea": "Arctic Ocean",
}

_BY_KEY = {name.casefold(): name for name in COUNTRIES_AND_SEAS}


@dataclass(frozen=True)
class GeoLocation:
    country: str  # a name from COUNTRIES_AND_SEAS, or an INSDC missing-value term
    region: str = ""  # "region, locality" after the colon; free text

    def __str__(self) -> str:
        return f"{self.country}: {self.region}" if self.region else self.country


class GeoLocationError(ValueError):
    pass


def parse_geo_location(value: str) -> GeoLocation:
    """``Country[: region, locality]`` with the country spelt as INSDC spells it.

    Case and spacing are forgiven; a name INSDC spells otherwise is refused
    with the spelling to use.
    """
    text = " ".join(value.split())
    missing = {m.casefold(): m for m in INSDC_MISSING}
    if text.casefold() in missing:
        return GeoLocation(missing[text.casefold()])
    country, _, region = text.partition(":")
    country, region = country.strip(), region.strip()
    found = _BY_KEY.get(country.casefold())
    if found:
        return GeoLocation(found, region)
    hint = OTHER_NAMES.get(country.casefold())
    if hint:
        raise GeoLocationError(f"{country!r} is written {hint!r} in INSDC's country list")
    raise GeoLocationError(
        f"{country!r} is not a country or sea in INSDC's list "
        "(write 'Country: region, locality', e.g. 'Norway: Vestland, Bergen', "
        "or an INSDC missing-value term such as 'not collected')"
    )
