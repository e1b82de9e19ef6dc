include "x.yar"
rule C { strings: $s = "unterminated
 condition: $s }
/* open