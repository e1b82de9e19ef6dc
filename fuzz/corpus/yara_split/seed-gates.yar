import "pe"
/* a comment with rule X { condition: true } */
private rule Small : tag {
  meta:
    condition = "meta, not a section"
  strings:
    $a = "abc" wide ascii nocase
    $h = { 4D 5A [2-4] ( 90 | 91 ) ?? }
    $r = /a{2,3}\/}"/ nocase
  condition:
    uint16(0) == 0x5a4d and filesize < 200KB and (2 of ($a, $h) or $r)
}
rule Either {
  condition: (uint32be(0) == 0x7f454c46 and filesize <= 1MB) or (0x5a4d == uint16(0) and 100KB > filesize)
}
rule Open { strings: $x = "x" condition: $x matches /}{/ or not filesize < 10 }
