rule A { condition: true }
rule B { condition: A and filesize < 10 }
global rule G { condition: true }
