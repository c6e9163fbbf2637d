SELECT 1;;

-- only a comment;
/* block */ ;
SELECT 'unterminated;
