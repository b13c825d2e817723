package gencorpus

// The vocabulary: a few hundred words, grouped so that the templates in
// story.go can keep articles, plurals, pronouns and verb forms in agreement.

// person is one of the recurring characters.
type person struct {
	name     string
	he       string // subject pronoun
	him      string // object pronoun
	his      string // possessive
	job      string // "a baker"
	work     string // "the bakery"
	pet      string // "a grey cat"
	petName  string
	makes    noun // what they make or sell
	favorite string
	town     string
}

var people = []person{
	{"Mara", "she", "her", "her", "a baker", "the bakery", "a grey cat", "Smoke", noun{"loaf of bread", "loaves of bread"}, "warm rolls", "Brindle"},
	{"Tom", "he", "him", "his", "a fisherman", "the harbour", "an old dog", "Biscuit", noun{"fish", "fish"}, "the sea at dawn", "Saltmere"},
	{"Ada", "she", "her", "her", "a teacher", "the school", "a small bird", "Pip", noun{"lesson", "lessons"}, "long walks", "Oakford"},
	{"Ben", "he", "him", "his", "a carpenter", "the workshop", "a brown dog", "Rusty", noun{"chair", "chairs"}, "the smell of pine", "Brindle"},
	{"Lila", "she", "her", "her", "a doctor", "the clinic", "a white cat", "Snow", noun{"remedy", "remedies"}, "quiet evenings", "Oakford"},
	{"Sam", "he", "him", "his", "a farmer", "the farm", "a young goat", "Clover", noun{"basket of apples", "baskets of apples"}, "rain in spring", "Oakford"},
	{"Nora", "she", "her", "her", "a painter", "the studio", "a black cat", "Ink", noun{"picture", "pictures"}, "bright colours", "Saltmere"},
	{"Owen", "he", "him", "his", "a sailor", "the ship", "a green parrot", "Captain", noun{"rope", "ropes"}, "stories of the north", "Saltmere"},
	{"Iris", "she", "her", "her", "a librarian", "the library", "an old tortoise", "Pebble", noun{"book", "books"}, "old maps", "Brindle"},
	{"Jack", "he", "him", "his", "a blacksmith", "the forge", "a big dog", "Bear", noun{"horseshoe", "horseshoes"}, "the sound of the hammer", "Oakford"},
	{"Rosa", "she", "her", "her", "a gardener", "the garden", "a little rabbit", "Button", noun{"pot of herbs", "pots of herbs"}, "roses in June", "Brindle"},
	{"Finn", "he", "him", "his", "a miller", "the mill", "a tabby cat", "Dusty", noun{"sack of flour", "sacks of flour"}, "the turning wheel", "Oakford"},
}

var towns = []string{"Brindle", "Oakford", "Saltmere"}

// places anyone can go to.
var places = []string{
	"the market", "the old bridge", "the forest", "the hill", "the river",
	"the square", "the inn", "the lighthouse", "the station", "the meadow",
	"the church", "the post office", "the beach", "the orchard", "the pond",
}

// placeInfo describes a place in the present tense.
var placeInfo = map[string][]string{
	"the market":      {"is full of stalls and voices", "opens early on Saturday", "smells of bread and fish"},
	"the old bridge":  {"crosses the river below the mill", "is made of grey stone", "is older than anyone in town"},
	"the forest":      {"is dark and quiet", "begins at the end of the lane", "is full of tall pines"},
	"the hill":        {"looks over the whole town", "is green in summer", "is windy in the afternoon"},
	"the river":       {"runs slowly past the town", "is cold and clear", "is wide near the harbour"},
	"the square":      {"has a fountain in the middle", "is busy at noon", "is quiet at night"},
	"the inn":         {"has a red door", "serves soup and bread", "is warm in winter"},
	"the lighthouse":  {"stands on the rocks", "shines all night", "is white with a red top"},
	"the station":     {"has one small platform", "is busy in the morning", "has a clock that is always late"},
	"the meadow":      {"is full of flowers", "lies between the farm and the forest", "is bright in the sun"},
	"the church":      {"has a tall bell tower", "is very old", "is cool and quiet inside"},
	"the post office": {"is next to the inn", "closes at five", "sells stamps and paper"},
	"the beach":       {"is long and sandy", "is covered in shells", "is empty in winter"},
	"the orchard":     {"is full of apple trees", "belongs to Sam", "is sweet in autumn"},
	"the pond":        {"is home to many ducks", "freezes in winter", "is small and round"},
}

// noun holds a singular and a plural form.
type noun struct{ one, many string }

var things = []noun{
	{"key", "keys"}, {"lamp", "lamps"}, {"letter", "letters"}, {"map", "maps"},
	{"kettle", "kettles"}, {"basket", "baskets"}, {"umbrella", "umbrellas"},
	{"hat", "hats"}, {"scarf", "scarves"}, {"box", "boxes"}, {"knife", "knives"},
	{"cup", "cups"}, {"book", "books"}, {"coat", "coats"}, {"ring", "rings"},
	{"bell", "bells"}, {"candle", "candles"}, {"glove", "gloves"}, {"bag", "bags"},
	{"clock", "clocks"}, {"feather", "feathers"}, {"shell", "shells"},
}

var foods = []noun{
	{"apple", "apples"}, {"egg", "eggs"}, {"onion", "onions"}, {"pear", "pears"},
	{"carrot", "carrots"}, {"potato", "potatoes"}, {"lemon", "lemons"},
	{"orange", "oranges"}, {"plum", "plums"}, {"cake", "cakes"},
	{"jar of honey", "jars of honey"}, {"bottle of milk", "bottles of milk"},
	{"piece of cheese", "pieces of cheese"}, {"loaf of bread", "loaves of bread"},
	{"cabbage", "cabbages"}, {"tomato", "tomatoes"},
}

var animals = []noun{
	{"cat", "cats"}, {"dog", "dogs"}, {"goat", "goats"}, {"bird", "birds"},
	{"fox", "foxes"}, {"horse", "horses"}, {"duck", "ducks"}, {"owl", "owls"},
	{"mouse", "mice"}, {"sheep", "sheep"}, {"child", "children"}, {"goose", "geese"},
}

var adjectives = []string{
	"old", "new", "small", "big", "red", "blue", "green", "yellow", "heavy",
	"light", "shiny", "broken", "wooden", "little", "round", "strange",
	"beautiful", "dusty", "empty", "lovely", "orange", "ugly", "useful",
}

// verb holds the base form, the third person singular and the past tense.
type verb struct{ base, s, past string }

// animalVerbs take a location afterwards: "The goats sleep by the wall."
var animalVerbs = []verb{
	{"sleep", "sleeps", "slept"}, {"sit", "sits", "sat"}, {"wait", "waits", "waited"},
	{"play", "plays", "played"}, {"hide", "hides", "hid"}, {"run", "runs", "ran"},
	{"rest", "rests", "rested"}, {"eat", "eats", "ate"}, {"sing", "sings", "sang"},
	{"stand", "stands", "stood"},
}

// chores take an object: "Ben fixes the chair."
var chores = []struct {
	v   verb
	obj string
}{
	{verb{"fix", "fixes", "fixed"}, "the fence"},
	{verb{"paint", "paints", "painted"}, "the door"},
	{verb{"wash", "washes", "washed"}, "the windows"},
	{verb{"sweep", "sweeps", "swept"}, "the floor"},
	{verb{"carry", "carries", "carried"}, "the water"},
	{verb{"cook", "cooks", "cooked"}, "the soup"},
	{verb{"read", "reads", "read"}, "the newspaper"},
	{verb{"write", "writes", "wrote"}, "a letter"},
	{verb{"feed", "feeds", "fed"}, "the chickens"},
	{verb{"mend", "mends", "mended"}, "the old net"},
	{verb{"bake", "bakes", "baked"}, "a pie"},
	{verb{"plant", "plants", "planted"}, "the beans"},
	{verb{"tidy", "tidies", "tidied"}, "the shelves"},
	{verb{"count", "counts", "counted"}, "the coins"},
}

var spots = []string{
	"by the door", "under the table", "near the window", "behind the wall",
	"in the grass", "on the roof", "by the fire", "under the bridge",
	"in the shade", "next to the well", "on the steps", "by the gate",
}

var times = []string{
	"In the morning", "Early one morning", "At noon", "In the afternoon",
	"In the evening", "Late at night", "After breakfast", "Before dinner",
}

var days = []string{"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"}

var seasons = []string{"spring", "summer", "autumn", "winter"}

var weathers = []string{
	"The sky was grey and the wind was cold.",
	"The sun was bright and the air was warm.",
	"It rained all morning, and the streets were wet.",
	"A thick fog lay over the town.",
	"Snow had fallen in the night, and everything was white.",
	"The clouds were low, and it looked like rain.",
	"It was a clear day, and the sea was calm.",
	"The wind blew hard from the north.",
}

var numbers = []string{"two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve"}

var feelings = []string{"happy", "tired", "worried", "glad", "surprised", "proud", "sleepy", "hungry", "cheerful"}

var goodFeelings = []string{"happy", "glad", "cheerful", "pleased", "grateful", "delighted"}

var saids = []string{"said", "replied", "answered", "called", "whispered", "laughed"}
