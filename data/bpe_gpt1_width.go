package data

// gpt1Width is the part of ftfy's fix_character_width (its WIDTH_MAP: the
// NFKC form of U+FF01-U+FFEF, and U+3000 as a space) past the full-width
// ASCII U+FF01-U+FF5E, which gpt1FixOnce shifts by arithmetic: full-width
// brackets, half-width CJK punctuation, katakana and Hangul letters, and the
// full-width signs (U+FFE5 is ¥). ftfy maps each character on its own, so a
// half-width voicing mark stays a combining mark (ftfy's NFC step, which
// gptctl does not reproduce, would then compose it).
var gpt1Width = map[rune]string{
	0x3000: " ",
	0xFF5F: "\u2985", 0xFF60: "\u2986", 0xFF61: "\u3002", 0xFF62: "\u300c",
	0xFF63: "\u300d", 0xFF64: "\u3001", 0xFF65: "\u30fb", 0xFF66: "\u30f2",
	0xFF67: "\u30a1", 0xFF68: "\u30a3", 0xFF69: "\u30a5", 0xFF6A: "\u30a7",
	0xFF6B: "\u30a9", 0xFF6C: "\u30e3", 0xFF6D: "\u30e5", 0xFF6E: "\u30e7",
	0xFF6F: "\u30c3", 0xFF70: "\u30fc", 0xFF71: "\u30a2", 0xFF72: "\u30a4",
	0xFF73: "\u30a6", 0xFF74: "\u30a8", 0xFF75: "\u30aa", 0xFF76: "\u30ab",
	0xFF77: "\u30ad", 0xFF78: "\u30af", 0xFF79: "\u30b1", 0xFF7A: "\u30b3",
	0xFF7B: "\u30b5", 0xFF7C: "\u30b7", 0xFF7D: "\u30b9", 0xFF7E: "\u30bb",
	0xFF7F: "\u30bd", 0xFF80: "\u30bf", 0xFF81: "\u30c1", 0xFF82: "\u30c4",
	0xFF83: "\u30c6", 0xFF84: "\u30c8", 0xFF85: "\u30ca", 0xFF86: "\u30cb",
	0xFF87: "\u30cc", 0xFF88: "\u30cd", 0xFF89: "\u30ce", 0xFF8A: "\u30cf",
	0xFF8B: "\u30d2", 0xFF8C: "\u30d5", 0xFF8D: "\u30d8", 0xFF8E: "\u30db",
	0xFF8F: "\u30de", 0xFF90: "\u30df", 0xFF91: "\u30e0", 0xFF92: "\u30e1",
	0xFF93: "\u30e2", 0xFF94: "\u30e4", 0xFF95: "\u30e6", 0xFF96: "\u30e8",
	0xFF97: "\u30e9", 0xFF98: "\u30ea", 0xFF99: "\u30eb", 0xFF9A: "\u30ec",
	0xFF9B: "\u30ed", 0xFF9C: "\u30ef", 0xFF9D: "\u30f3", 0xFF9E: "\u3099",
	0xFF9F: "\u309a", 0xFFA0: "\u1160", 0xFFA1: "\u1100", 0xFFA2: "\u1101",
	0xFFA3: "\u11aa", 0xFFA4: "\u1102", 0xFFA5: "\u11ac", 0xFFA6: "\u11ad",
	0xFFA7: "\u1103", 0xFFA8: "\u1104", 0xFFA9: "\u1105", 0xFFAA: "\u11b0",
	0xFFAB: "\u11b1", 0xFFAC: "\u11b2", 0xFFAD: "\u11b3", 0xFFAE: "\u11b4",
	0xFFAF: "\u11b5", 0xFFB0: "\u111a", 0xFFB1: "\u1106", 0xFFB2: "\u1107",
	0xFFB3: "\u1108", 0xFFB4: "\u1121", 0xFFB5: "\u1109", 0xFFB6: "\u110a",
	0xFFB7: "\u110b", 0xFFB8: "\u110c", 0xFFB9: "\u110d", 0xFFBA: "\u110e",
	0xFFBB: "\u110f", 0xFFBC: "\u1110", 0xFFBD: "\u1111", 0xFFBE: "\u1112",
	0xFFC2: "\u1161", 0xFFC3: "\u1162", 0xFFC4: "\u1163", 0xFFC5: "\u1164",
	0xFFC6: "\u1165", 0xFFC7: "\u1166", 0xFFCA: "\u1167", 0xFFCB: "\u1168",
	0xFFCC: "\u1169", 0xFFCD: "\u116a", 0xFFCE: "\u116b", 0xFFCF: "\u116c",
	0xFFD2: "\u116d", 0xFFD3: "\u116e", 0xFFD4: "\u116f", 0xFFD5: "\u1170",
	0xFFD6: "\u1171", 0xFFD7: "\u1172", 0xFFDA: "\u1173", 0xFFDB: "\u1174",
	0xFFDC: "\u1175", 0xFFE0: "\u00a2", 0xFFE1: "\u00a3", 0xFFE2: "\u00ac",
	0xFFE3: "\u0020\u0304", 0xFFE4: "\u00a6", 0xFFE5: "\u00a5", 0xFFE6: "\u20a9",
	0xFFE8: "\u2502", 0xFFE9: "\u2190", 0xFFEA: "\u2191", 0xFFEB: "\u2192",
	0xFFEC: "\u2193", 0xFFED: "\u25a0", 0xFFEE: "\u25cb",
}
