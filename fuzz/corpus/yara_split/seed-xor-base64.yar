rule x { strings: $a = "powershell -enc" xor(0x01-0xff) ascii wide $b = "This program cannot" base64 base64wide wide
  $c = "custom alphabet text" base64("!@#$%^&*()ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz012") $d = "k" xor(7)
  condition: $a or ($b and #c > 1) or $d }
