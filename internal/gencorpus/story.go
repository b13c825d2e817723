package gencorpus

import "strings"

// story is a past-tense tale in four or five paragraphs: an opening, one of
// several plots, and a closing.
func (g *gen) story() string {
	p, f := g.two()
	plots := []func(person, person) (string, []string){g.lostThing, g.market, g.storm, g.visit, g.chore}
	title, body := pick(g, plots)(p, f)
	paras := append([]string{g.opening(p)}, body...)
	return doc(title, append(paras, g.closing(p))...)
}

func (g *gen) opening(p person) string {
	switch g.r.intn(3) {
	case 0:
		return para("It was "+a(pick(g, seasons))+" "+pick(g, days)+" in "+p.town+".",
			pick(g, weathers), p.name+" was at "+p.work+", where "+p.he+" worked as "+p.job+".")
	case 1:
		return para(p.name+" woke up early.", pick(g, weathers),
			capital(p.his)+" "+strings.TrimPrefix(strings.TrimPrefix(p.pet, "a "), "an ")+", "+p.petName+", was still asleep "+pick(g, spots)+".")
	default:
		return para(pick(g, times)+", "+p.name+" walked to "+p.work+".", pick(g, weathers),
			capital(p.he)+" was "+pick(g, goodFeelings)+", because "+p.he+" loved "+p.favorite+".")
	}
}

func (g *gen) closing(p person) string {
	switch g.r.intn(4) {
	case 0:
		return para("That evening, "+p.name+" sat by the fire with "+p.petName+".", capital(p.he)+" thought it had been a good day.")
	case 1:
		return para("When the sun went down, "+p.name+" went home.", capital(p.he)+" was tired, but "+p.he+" was "+pick(g, goodFeelings)+".")
	case 2:
		return para("Later, "+p.name+" wrote about the day in "+p.his+" notebook.", "Then "+p.he+" went to bed and slept until morning.")
	default:
		return para("And so the day ended in " + p.town + ", as quiet as it began.")
	}
}

func (g *gen) lostThing(p, f person) (string, []string) {
	adj := pick(g, adjectives)
	t := pick(g, things).one
	where := pick(g, places)
	spot := pick(g, spots)
	return "The Lost " + capital(t), []string{
		para(p.name+" could not find "+p.his+" "+adj+" "+t+".", capital(p.he)+" looked "+pick(g, spots)+", and "+p.he+" looked "+pick(g, spots)+", but it was not there."),
		para("On the way to "+pick(g, places)+", "+p.he+" met "+f.name+".",
			g.quote(p.name, "Have you seen my "+t+"?"),
			g.quote(f.name, "I saw "+a(adj+" "+t)+" "+spot+" at "+where+" this morning."),
			g.quote(p.name, "Thank you! I will go there now.")),
		para("They went to "+where+" together.", "The "+t+" was "+spot+", just as "+f.name+" had said.",
			p.name+" was so "+pick(g, goodFeelings)+" that "+p.he+" gave "+f.name+" "+a(p.makes.one)+"."),
	}
}

func (g *gen) market(p, f person) (string, []string) {
	food := pick(g, foods)
	n, many := g.count(food)
	price := pick(g, numbers)
	item, ask, cost := food.one, "How much is it?", "It costs "
	if many {
		item, ask, cost = food.many, "How much are they?", "They cost "
	}
	return p.name + " Goes to the Market", []string{
		para(p.name+" needed "+n+", so "+p.he+" went to the market.", "The market was busy, and "+f.name+" was there too."),
		para(g.quote(f.name, "Good morning, "+p.name+". What do you need today?"),
			g.quote(p.name, "I need "+n+". "+ask),
			g.quote(f.name, cost+price+" coins."),
			g.quote(p.name, "That is fair. Here you are.")),
		para(p.name+" put the "+item+" in "+p.his+" basket and walked home past "+pick(g, places)+".",
			"On the way, "+p.he+" saw "+pick(g, numbers)+" "+pick(g, animals).many+" "+pick(g, spots)+"."),
	}
}

func (g *gen) storm(p, f person) (string, []string) {
	place := pick(g, places)
	c := pick(g, chores)
	return "The Storm over " + p.town, []string{
		para("In the afternoon, a storm came over the hill.", "The wind blew, the rain fell, and the sky grew dark.",
			p.name+" ran to "+place+", where "+f.name+" was waiting."),
		para(g.quote(f.name, "Come inside, quickly!"), g.quote(p.name, "What a storm! I have never seen so much rain.")),
		para("They stayed at "+place+" until the storm was over.", f.name+" "+c.v.past+" "+c.obj+", and "+p.name+" helped "+f.him+".",
			"When the rain stopped, the air was fresh and the "+pick(g, animals).many+" came out again."),
	}
}

func (g *gen) visit(p, f person) (string, []string) {
	gift := p.makes.one
	return "A Visit to " + f.name, []string{
		para(p.name+" wanted to visit "+f.name+", who worked at "+f.work+".", "So "+p.he+" took "+a(gift)+" as a present."),
		para("When "+p.he+" arrived, "+f.name+" was busy.", g.quote(f.name, "Hello, "+p.name+"! Come in and sit down."),
			g.quote(p.name, "I brought you "+a(gift)+"."), g.quote(f.name, "Thank you. That is very kind of you!")),
		para("They talked for a long time about "+f.favorite+" and "+p.favorite+".",
			f.petName+", "+f.his+" "+strings.TrimPrefix(strings.TrimPrefix(f.pet, "a "), "an ")+", slept "+pick(g, spots)+"."),
	}
}

func (g *gen) chore(p, f person) (string, []string) {
	c := pick(g, chores)
	return p.name + " and " + f.name, []string{
		para("One day, "+f.name+" needed help.", g.quote(f.name, "Can you help me? I must "+c.v.base+" "+c.obj+" before dark."),
			g.quote(p.name, "Of course I can.")),
		para("So "+p.name+" and "+f.name+" "+c.v.past+" "+c.obj+" together.", "It took them "+pick(g, numbers)+" hours.",
			"When they finished, "+f.name+" made tea, and they sat "+pick(g, spots)+"."),
	}
}
