package gencorpus

import "strings"

// dialogue is a short present-tense script: "MARA: Where is Tom?". Answers
// about the characters are always true, so the facts recur across documents.
func (g *gen) dialogue() string {
	p, f := g.two()
	where := p.work
	if g.chance(60) {
		where = pick(g, places)
	}
	title := title("at " + where)
	lines := []string{g.line(p, "Hello, "+f.name+"! How are you today?"),
		g.line(f, "I am "+pick(g, feelings)+", thank you. And you?")}
	asker, other := p, f
	for n := 2 + g.r.intn(3); n > 0; n-- {
		q, ans := g.exchange(other)
		lines = append(lines, g.line(asker, q), g.line(other, ans))
		asker, other = other, asker
	}
	lines = append(lines, g.line(f, "I must go now. Goodbye, "+p.name+"!"), g.line(p, "Goodbye! See you on "+pick(g, days)+"."))
	return title + "\n\n" + strings.Join(lines, "\n") + "\n"
}

func (g *gen) line(p person, text string) string {
	return strings.ToUpper(p.name) + ": " + text
}

// exchange returns a question and its true answer, put to person you.
func (g *gen) exchange(you person) (string, string) {
	x := pick(g, people)
	switch g.r.intn(7) {
	case 0:
		c := pick(g, chores)
		return "Where is " + x.name + " today?", capital(x.he) + " is at " + x.work + ". " + capital(x.he) + " " + c.v.s + " " + c.obj + " there every " + pick(g, days) + "."
	case 1:
		pet := pick(g, []string{"cat", "dog", "bird", "goat", "rabbit", "parrot", "tortoise"})
		if strings.HasSuffix(x.pet, pet) {
			return "Does " + x.name + " have " + a(pet) + "?", "Yes, " + x.he + " does. " + capital(x.he) + " has " + x.pet + " called " + x.petName + "."
		}
		return "Does " + x.name + " have " + a(pet) + "?", "No, " + x.he + " does not. " + capital(x.he) + " has " + x.pet + "."
	case 2:
		return "What does " + x.name + " do?", capital(x.he) + " is " + x.job + ". " + capital(x.he) + " makes the best " + x.makes.many + " in " + x.town + "."
	case 3:
		an, v := pick(g, animals), pick(g, animalVerbs)
		return "Are the " + an.many + " " + pick(g, spots) + "?", "Yes, they are. They " + v.base + " there every day, and the old " + an.one + " " + v.s + " there too."
	case 4:
		food := pick(g, foods)
		return "How many " + food.many + " do you have?", "I have " + pick(g, numbers) + " " + food.many + ". Do you want one?"
	case 5:
		return "Where do you live?", "I live in " + you.town + ", not far from " + pick(g, places) + "."
	default:
		pl := pick(g, places)
		return "What is " + pl + " like?", capital(pl) + " " + pick(g, placeInfo[pl]) + "."
	}
}

// description is a present-tense portrait of a place in a town.
func (g *gen) description() string {
	pl := pick(g, places)
	info := placeInfo[pl]
	i := g.r.intn(len(info))
	town := pick(g, towns)
	p := pick(g, people)
	for p.town != town {
		p = pick(g, people)
	}
	an, an2 := pick(g, animals), pick(g, animals)
	v, v2 := pick(g, animalVerbs), pick(g, animalVerbs)
	c := pick(g, chores)
	return doc(title(pl)+" in "+town,
		para(capital(pl)+" in "+town+" "+info[i]+".", "It "+info[(i+1)%len(info)]+"."),
		para("Every "+pick(g, days)+", "+p.name+" comes here.", capital(p.he)+" "+c.v.s+" "+c.obj+" and then "+p.he+" goes back to "+p.work+".",
			"The "+an.many+" "+v.base+" "+pick(g, spots)+", and "+a(an2.one)+" "+v2.s+" "+pick(g, spots)+"."),
		para("In "+pick(g, seasons)+", "+pl+" "+info[(i+2)%len(info)]+".", "People say that "+pl+" is the "+pick(g, []string{"best", "oldest", "quietest", "prettiest"})+" place in "+town+"."))
}

// letter is written in the first person by one character to another.
func (g *gen) letter() string {
	p, f := g.two()
	x := pick(g, people)
	c := pick(g, chores)
	return "A Letter from " + p.name + "\n\nDear " + f.name + ",\n\n" +
		para("I hope you are well.", "Yesterday I went to "+pick(g, places)+" and I saw "+pick(g, numbers)+" "+pick(g, animals).many+" "+pick(g, spots)+".",
			p.petName+" is "+pick(g, feelings)+", and so am I.", "This week I "+c.v.past+" "+c.obj+" at "+p.work+".") + "\n\n" +
		para("Next "+pick(g, days)+", I will come to "+f.town+".", "I will bring you "+a(p.makes.one)+".",
			"Please tell "+x.name+" that I said hello.") + "\n\nYour friend,\n" + p.name + "\n"
}

// list is a shopping list with counted, pluralised items.
func (g *gen) list() string {
	p := pick(g, people)
	var lines []string
	seen := map[string]bool{}
	for n := 3 + g.r.intn(4); n > 0; n-- {
		food := pick(g, foods)
		if seen[food.one] {
			continue
		}
		seen[food.one] = true
		item, _ := g.count(food)
		lines = append(lines, "- "+item)
	}
	last := lines[len(lines)-1][2:]
	return doc(p.name+"'s List", "Things to buy at the market:\n"+strings.Join(lines, "\n"),
		para(p.name+" bought everything except "+last+".", "The stall was empty, so "+p.he+" will go back on "+pick(g, days)+"."))
}

// diary is a few days of first-person entries.
func (g *gen) diary() string {
	p, f := g.two()
	d := g.r.intn(len(days))
	var entries []string
	for n := 2 + g.r.intn(3); n > 0; n-- {
		c := pick(g, chores)
		entries = append(entries, para(days[d%len(days)]+".", pick(g, weathers),
			"Today I "+c.v.past+" "+c.obj+" at "+p.work+".",
			pick(g, []string{f.name + " came to see me.", "I did not see " + f.name + ".", "I walked to " + pick(g, places) + " with " + f.name + "."}),
			"I feel "+pick(g, feelings)+"."))
		d++
	}
	return doc(p.name+"'s Diary", entries...)
}
