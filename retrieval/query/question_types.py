"""What a question asks for, read off its question words: a date or a place.

Shared by marking (a sentence of the asked-for type is preferred) and confidence (is anything
of that type in the top passage at all?). Patterns match a folded question (``search_key``:
simplified, lower case). Amounts are read by each of them in its own way (confidence also reads
the unit after 多少), so they stay there.
"""

from __future__ import annotations

import re

ASKS_DATE = re.compile(
    r"什么时候|何时|何年|哪一?年|哪[一几]?天|几月|几号|哪个月|什么时间|几时|日期"
    r"|\bwhen\b|what year|which year|what date"
)
# 在哪 asks where when a place or a verb follows (在哪里, 在哪一座, 在哪召开), not a time or a
# kind (在哪一天, 在哪几天, 在哪一种, 在哪些方面).
_WHERE = (
    r"哪里|何地|何处"
    r"|在哪(?:儿|边|[一个]?(?:国家?|城市|省|市|县|区|地区|地方|座))|在哪(?![一几个些种年天场次])"
    r"|哪[个些](?:城市|省|市|县|区|地区|地方|洲)|\bwhere\b|which city"
)
# The place questions confidence reads: its passage patterns know provinces, 市, 区 …
ASKS_PLACE = re.compile(_WHERE)
# Any place, a country or a spot too (哪国, 哪儿, 什么地方): what marking prefers a sentence for.
ASKS_ANY_PLACE = re.compile(_WHERE + r"|哪儿|什么地方|哪个国家|哪[国省市县]")
