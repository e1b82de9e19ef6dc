import "pe"
rule A { strings: $a = "x" condition: ($a and pe.exports("y")) or not pe.imphash() == "z" or for any i in (0..pe.number_of_sections - 1) : (pe.sections[i].name == ".t") }
rule B { condition: A and pe.is_pe == 0 }
rule B { condition: $a at pe.entry_point }
