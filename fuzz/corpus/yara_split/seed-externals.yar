rule a { strings: $a = "x" condition: $a and filename matches /^inv/i and not filepath contains "/etc/" }
rule b { condition: "x" == filename or extension == ".php" }
